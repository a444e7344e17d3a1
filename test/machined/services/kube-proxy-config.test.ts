// kube-proxy's config file, kubeconfig and flags, and its two services.
import t from "tap";
import YAML from "yaml";
import type { MachineConfig } from "../../../src/config/schema.js";
import { kubeProxy } from "../../../src/machined/services/kube-proxy.js";
import { kubeProxyArgs, kubeProxyConfigFile, kubeProxyKubeconfig } from "../../../src/machined/services/kube-proxy-config.js";
import { kubeProxyCredential } from "../../../src/machined/services/kube-proxy-credential.js";
import { configOf, worker } from "../../config/fixtures.js";
import { testContext } from "../helpers.js";

const withPods = (podSubnets?: string[]): MachineConfig => {
  const c = configOf(worker({}));
  return { ...c, cluster: { ...c.cluster, network: podSubnets ? { podSubnets } : {} } } as MachineConfig;
};

t.test("iptables mode on the pod subnet, health and metrics on loopback, the node's name", async (t) => {
  const doc = YAML.parse(kubeProxyConfigFile(withPods(), "node-1"));
  t.same(doc, {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig: "/etc/kubernetes/kube-proxy.kubeconfig" },
    clusterCIDR: "10.244.0.0/16",
    hostnameOverride: "node-1",
    bindAddress: "0.0.0.0",
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  });
  t.equal(YAML.parse(kubeProxyConfigFile(withPods(["10.32.0.0/12"]), "n")).clusterCIDR, "10.32.0.0/12", "cluster.network.podSubnets");
});

t.test("conntrack: every value kube-proxy would write as a sysctl is zero (left to the kernel)", async (t) => {
  const { conntrack } = YAML.parse(kubeProxyConfigFile(withPods(), "n"));
  for (const [k, v] of Object.entries(conntrack)) t.ok(v === 0 || v === "0s", `${k} = ${v}`);
});

t.test("the kubeconfig names the endpoint, the cluster CA and kube-proxy's certificate files", async (t) => {
  const c = configOf(worker({}, { cluster: { controlPlane: { endpoint: "https://10.0.0.1:6443" } } }));
  const doc = YAML.parse(kubeProxyKubeconfig(c));
  t.equal(doc.clusters[0].cluster.server, "https://10.0.0.1:6443");
  t.equal(doc.clusters[0].cluster["certificate-authority"], "/etc/kubernetes/pki/ca.crt");
  t.same(doc.users[0].user, { "client-certificate": "/var/lib/kube-proxy/pki/client.crt", "client-key": "/var/lib/kube-proxy/pki/client.key" });
  t.equal(doc["current-context"], "kube-proxy");
  t.same(kubeProxyArgs(), ["--config=/etc/kubernetes/kube-proxy.yaml"]);
});

t.test("kube-proxy waits for its credential and netfilter, health on :10256, skipped without a binary", async (t) => {
  t.same(kubeProxy.dependsOn, ["kube-proxy-credential"]);
  t.same(kubeProxy.conditions?.map((c) => c.describe), ["the runtime kernel modules and sysctls"]);
  t.equal(kubeProxy.restart, "forever");
  t.match(kubeProxy.skip?.(testContext("/nonexistent")), /^no kube-proxy binary in the image \(\/nonexistent\/bin\/kube-proxy\)$/);
  t.same(kubeProxyCredential.dependsOn, ["kubelet"]);
  t.same(kubeProxyCredential.conditions?.map((c) => c.describe), ["the kubelet's client certificate"]);
  t.ok(kubeProxyCredential.health, "healthy once it holds a valid certificate");
});
