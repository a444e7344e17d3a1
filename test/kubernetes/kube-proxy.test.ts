// kube-proxy (1.20) for real, with kiln's KubeProxyConfiguration and a
// certificate got by CSR: everything (etcd, the API server, the controller
// manager, kube-proxy) runs inside a network namespace of the test's own,
// which this process enters first, so kube-proxy's iptables rules and sysctls
// stay there. It becomes healthy and writes a Service's rules: its ClusterIP
// DNATed to its endpoint.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import YAML from "yaml";
import type { MachineConfig } from "../../src/config/schema.js";
import { createKubeClient } from "../../src/machinery/kube-client.js";
import { requestClientCertificate } from "../../src/machined/kubernetes/client-csr.js";
import { runControlPlaneControllers } from "../../src/machined/kubernetes/controllers.js";
import { kubeProxyConfigFile } from "../../src/machined/services/kube-proxy-config.js";
import { createLibcSys } from "../../src/sys/libc.js";
import { CLONE } from "../../src/sys/sys.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { startControlPlane } from "../fixtures/kubernetes/control-plane.js";
import { stop } from "../machined/containerd.js";
import { tempDir } from "../machined/helpers.js";
import { createNetns, ipIn, needsNetns } from "../net/netns.js";

const kubeDir = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.plan(0, m) });

if (kubeDir && needsNetns(t)) {
  const ns = `kiln-kproxy-${process.pid}`;
  createNetns(t, ns);
  ipIn(ns, ["link", "set", "lo", "up"]);
  // This process's main thread, and so every child it spawns, lives in the namespace from here on.
  const fd = openSync(`/run/netns/${ns}`, "r");
  createLibcSys().setns(fd, CLONE.NEWNET);
  closeSync(fd);

  const cp = await startControlPlane(t, kubeDir, { controllerManager: true });
  const admin = createKubeClient(cp.admin);
  t.teardown(() => admin.close());
  await admin.create("/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "n1" }, status: { addresses: [{ type: "InternalIP", address: "127.0.0.1" }] } });

  t.test("kube-proxy with kiln's config and its CSR certificate gets healthy and writes the Service rules", { timeout: 180_000 }, async (t) => {
    const ac = new AbortController();
    const running = runControlPlaneControllers(cp.admin, { cluster: { token: "abcdef.0123456789abcdef" } } as MachineConfig, ac.signal, { log: () => {} });
    t.teardown(async () => {
      ac.abort();
      await running;
    });
    const n1 = await cp.clientCert("system:node:n1", ["system:nodes"]);
    const node = createKubeClient({ server: cp.server, ca: cp.ca.crt, cert: n1.crt, key: n1.key });
    t.teardown(() => node.close());
    const got = await requestClientCertificate(node, { cn: "system:kube-proxy", namePrefix: "kube-proxy-n1-", pollMs: 200 }, AbortSignal.timeout(60_000));

    const dir = tempDir(t, "kiln-kproxy-");
    const f = { cert: join(dir, "client.crt"), key: join(dir, "client.key"), ca: join(dir, "ca.crt"), kubeconfig: join(dir, "kubeconfig"), config: join(dir, "kube-proxy.yaml") };
    writeFileSync(f.cert, got.cert);
    writeFileSync(f.key, got.key, { mode: 0o600 });
    writeFileSync(f.ca, cp.ca.crt);
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "kiln", cluster: { server: cp.server, "certificate-authority": f.ca } }],
      users: [{ name: "kube-proxy", user: { "client-certificate": f.cert, "client-key": f.key } }],
      contexts: [{ name: "kube-proxy", context: { cluster: "kiln", user: "kube-proxy" } }],
      "current-context": "kube-proxy",
    };
    writeFileSync(f.kubeconfig, YAML.stringify(kubeconfig));
    // kiln's file as machined writes it, its kubeconfig path moved to the test's.
    const config = YAML.parse(kubeProxyConfigFile({ machine: { type: "worker" } } as MachineConfig, "n1"));
    config.clientConnection.kubeconfig = f.kubeconfig;
    writeFileSync(f.config, YAML.stringify(config));
    const out = openSync(join(dir, "kube-proxy.log"), "a");
    const proc = spawn(join(kubeDir as string, "kube-proxy"), [`--config=${f.config}`], { stdio: ["ignore", out, out] });
    t.teardown(() => stop(proc));

    let healthy = false;
    for (let i = 0; i < 120 && !healthy && proc.exitCode === null; i++) {
      healthy = await fetch("http://127.0.0.1:10256/healthz").then((r) => r.ok, () => false);
      if (!healthy) await sleep(500);
    }
    const log = () => execFileSync("tail", ["-n", "30", join(dir, "kube-proxy.log")], { encoding: "utf8" });
    t.ok(healthy, "healthz answers ok on 127.0.0.1:10256", healthy ? {} : { log: log() });
    // A Service without a selector and its Endpoints (mirrored into an EndpointSlice by the controller manager).
    await admin.create("/api/v1/namespaces/default/services", { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { clusterIP: "10.96.0.50", ports: [{ name: "http", port: 80, targetPort: 8080 }] } });
    await admin.create("/api/v1/namespaces/default/endpoints", { apiVersion: "v1", kind: "Endpoints", metadata: { name: "web" }, subsets: [{ addresses: [{ ip: "10.244.1.5" }], ports: [{ name: "http", port: 8080 }] }] });
    let rules = "";
    for (let i = 0; i < 120 && !rules.includes("--to-destination 10.244.1.5:8080"); i++) {
      rules = execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" });
      await sleep(500);
    }
    t.match(rules, /-A KUBE-SERVICES -d 10\.96\.0\.50\/32 .*default\/web:http cluster IP/, "the Service's ClusterIP is in KUBE-SERVICES", { log: log() });
    t.match(rules, /-A KUBE-SEP-\S+ -p tcp .*-j DNAT --to-destination 10\.244\.1\.5:8080/, "DNATed to its endpoint");
    t.match(rules, /! -s 10\.244\.0\.0\/16 -d 10\.96\.0\.50\/32 .*-j KUBE-MARK-MASQ/, "traffic from outside the pod subnet (clusterCIDR) is masqueraded");
    t.notMatch(log(), /nf_conntrack_max|hashsize/, "no conntrack sysctl was attempted");
  });
}
