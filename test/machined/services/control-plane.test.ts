// The API server, controller manager and scheduler: when they are skipped
// (and say why), their flags, and the certificates and kubeconfigs issued
// for them (SANs, subjects, issuers, usages, key modes).
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import YAML from "yaml";
import { clusterNetwork } from "../../../src/config/cluster-network.js";
import { apiServerArgs, controllerManagerArgs, schedulerArgs } from "../../../src/machined/services/control-plane-args.js";
import {
  apiServerSans,
  type ControlPlaneSecrets,
  controlPlaneFiles,
  controlPlaneSecrets,
  writeApiServerPki,
  writeControllerManagerPki,
  writeSchedulerPki,
} from "../../../src/machined/services/control-plane-pki.js";
import { controlPlaneSkip, nodeApiServerSans } from "../../../src/machined/services/control-plane.js";
import { kubeApiServer } from "../../../src/machined/services/kube-apiserver.js";
import { kubeControllerManager } from "../../../src/machined/services/kube-controller-manager.js";
import { kubeScheduler } from "../../../src/machined/services/kube-scheduler.js";
import { controlPlanePaths } from "../../../src/machinery/paths.js";
import { configOf, worker } from "../../config/fixtures.js";
import { controlPlaneConfig } from "../../fixtures/kubernetes/control-plane-config.js";
import { tempDir, testContext } from "../helpers.js";

const programs = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];
const ports = { apiServerPort: 16443, controllerManagerPort: 20257, schedulerPort: 20259, etcdClientPort: 22379 };

/** A context whose image has the control plane's binaries (placeholder files). */
function withBinaries(dir: string) {
  const ctx = testContext(dir);
  mkdirSync(join(dir, "bin"), { recursive: true });
  for (const p of programs) writeFileSync(join(dir, "bin", p), "", { mode: 0o755 });
  return ctx;
}

/** The secrets of a fresh control-plane config, decoded. */
async function secrets(): Promise<ControlPlaneSecrets> {
  const s = controlPlaneSecrets((await controlPlaneConfig()).config);
  if ("missing" in s) throw new Error(s.missing);
  return s;
}

/** The certificate in `file`. */
const certAt = (file: string) => new X509Certificate(readFileSync(file));

/** A kubeconfig's server and its embedded client certificate. */
function kubeconfigAt(file: string): { server: string; client: X509Certificate; ca: X509Certificate } {
  const doc = YAML.parse(readFileSync(file, "utf8"));
  const b64 = (s: string) => Buffer.from(s, "base64");
  return {
    server: doc.clusters[0].cluster.server,
    ca: new X509Certificate(b64(doc.clusters[0].cluster["certificate-authority-data"])),
    client: new X509Certificate(b64(doc.users[0].user["client-certificate-data"])),
  };
}

const serverAuth = "1.3.6.1.5.5.7.3.1";
const clientAuth = "1.3.6.1.5.5.7.3.2";

t.test("skipped on a worker, without a binary, without each secret", async (t) => {
  const dir = tempDir(t);
  const ctx = withBinaries(dir);
  ctx.config = configOf(worker({}));
  t.equal(controlPlaneSkip(ctx, "kube-scheduler"), "this machine is a worker: only control planes run kube-scheduler");
  const { config } = await controlPlaneConfig();
  const without = (drop: (c: NonNullable<typeof config.cluster>) => void) => {
    const c = structuredClone(config);
    drop(c.cluster!);
    return c;
  };
  const cases = [
    [without((c) => delete c.ca!.key), /^cluster\.ca \(with its key\) is not in the config: kilnctl gen config writes it into controlplane\.yaml$/],
    [without((c) => delete c.serviceAccount), /^cluster\.serviceAccount\.key is not in the config/],
    [without((c) => delete c.frontProxy), /^cluster\.frontProxy\.ca \(with its key\) is not in the config/],
    [without((c) => delete c.etcd), /^cluster\.etcd\.ca \(with its key\) is not in the config/],
  ] as const;
  for (const [c, reason] of cases) {
    ctx.config = c;
    for (const p of programs) t.match(controlPlaneSkip(ctx, p), reason, `${p}: ${reason}`);
  }
  ctx.config = config;
  t.equal(controlPlaneSkip(ctx, "kube-controller-manager"), undefined);
  t.equal(controlPlaneSkip(ctx, "kube-apiserver"), undefined, "runs (after etcd, which waits to be founded or to join)");
  const bare = testContext(tempDir(t));
  bare.config = config;
  t.match(controlPlaneSkip(bare, "kube-apiserver"), /^no kube-apiserver binary in the image/);
});

t.test("the API server waits for etcd; the controller manager and scheduler for the API server (skipped with it)", async (t) => {
  t.same(kubeApiServer.dependsOn, ["etcd"]);
  t.same(kubeControllerManager.dependsOn, ["kube-apiserver"]);
  t.same(kubeScheduler.dependsOn, ["kube-apiserver"]);
});

t.test("the API server's flags: local etcd over TLS, the networks, Node and RBAC, tokens, front proxy", async (t) => {
  const p = { pki: "/pki", ...ports };
  const args = apiServerArgs("10.5.0.2", clusterNetwork(undefined), p);
  for (const flag of [
    "--advertise-address=10.5.0.2",
    "--secure-port=16443",
    "--insecure-port=0",
    "--etcd-servers=https://127.0.0.1:22379",
    "--etcd-cafile=/pki/etcd-ca.crt",
    "--etcd-certfile=/pki/apiserver-etcd-client.crt",
    "--service-cluster-ip-range=10.96.0.0/12",
    "--client-ca-file=/pki/ca.crt",
    "--tls-cert-file=/pki/apiserver.crt",
    "--tls-private-key-file=/pki/apiserver.key",
    "--kubelet-client-certificate=/pki/apiserver-kubelet-client.crt",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--enable-bootstrap-token-auth=true",
    "--authorization-mode=Node,RBAC",
    "--enable-admission-plugins=NodeRestriction",
    "--service-account-key-file=/pki/sa.pub",
    "--service-account-signing-key-file=/pki/sa.key",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--proxy-client-cert-file=/pki/front-proxy-client.crt",
    "--requestheader-client-ca-file=/pki/front-proxy-ca.crt",
    "--requestheader-allowed-names=front-proxy-client",
    "--allow-privileged=true",
  ]) {
    t.ok(args.includes(flag), flag);
  }
  t.notOk(args.some((a) => a.startsWith("--anonymous-auth")), "anonymous requests stay allowed: /readyz answers the health check");
  t.ok(args.includes("--kubelet-certificate-authority=/pki/ca.crt"), "kubelets' serving certificates are verified with the cluster CA");
  const custom = apiServerArgs("10.5.0.2", clusterNetwork(configOf(worker({}, { cluster: { network: { serviceSubnets: ["10.100.0.0/16"] } } }))), p);
  t.ok(custom.includes("--service-cluster-ip-range=10.100.0.0/16"), "cluster.network.serviceSubnets");
});

t.test("the controller manager's and scheduler's flags: loopback HTTPS, leader election, node CIDRs, signing", async (t) => {
  const p = { pki: "/pki", ...ports };
  const cm = controllerManagerArgs(clusterNetwork(configOf(worker({}, { cluster: { network: { podSubnets: ["10.200.0.0/16"] } } }))), p);
  for (const flag of [
    "--kubeconfig=/pki/controller-manager.kubeconfig",
    "--authentication-kubeconfig=/pki/controller-manager.kubeconfig",
    "--authorization-kubeconfig=/pki/controller-manager.kubeconfig",
    "--bind-address=127.0.0.1",
    "--secure-port=20257",
    "--port=0",
    "--allocate-node-cidrs=true",
    "--cluster-cidr=10.200.0.0/16",
    "--node-cidr-mask-size=24",
    "--service-cluster-ip-range=10.96.0.0/12",
    "--cluster-signing-cert-file=/pki/ca.crt",
    "--cluster-signing-key-file=/pki/ca.key",
    "--root-ca-file=/pki/ca.crt",
    "--service-account-private-key-file=/pki/sa.key",
    "--use-service-account-credentials=true",
    "--controllers=*,bootstrapsigner,tokencleaner",
    "--leader-elect=true",
  ]) {
    t.ok(cm.includes(flag), flag);
  }
  const sched = schedulerArgs(p);
  for (const flag of ["--kubeconfig=/pki/scheduler.kubeconfig", "--authentication-kubeconfig=/pki/scheduler.kubeconfig", "--bind-address=127.0.0.1", "--secure-port=20259", "--port=0", "--leader-elect=true"]) {
    t.ok(sched.includes(flag), flag);
  }
});

t.test("the API server's names: the kubernetes Service, loopback, the node, the endpoint's host, machine.certSANs", async (t) => {
  const sans = apiServerSans({ apiServiceIp: "10.96.0.1", hostname: "cp-1", addresses: ["10.5.0.2", "fe80::1", "10.5.0.2"], endpoint: "https://cp.example.com:6443", certSANs: ["api.example.com", "192.0.2.10"] });
  t.same(sans, [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.96.0.1",
    "localhost",
    "127.0.0.1",
    "::1",
    "cp-1",
    "10.5.0.2",
    "cp.example.com",
    "api.example.com",
    "192.0.2.10",
  ]);
  t.ok(apiServerSans({ apiServiceIp: "10.96.0.1", hostname: "h", addresses: [], endpoint: "https://[fd00::5]:6443" }).includes("fd00::5"), "an IPv6 endpoint without brackets");
  const ctx = testContext(tempDir(t));
  ctx.config = (await controlPlaneConfig({ certSANs: ["extra.example"] }, { controlPlane: { endpoint: "https://vip.example:6443" }, network: { serviceSubnets: ["10.100.0.0/16"] } })).config;
  const node = nodeApiServerSans(ctx, ["127.0.0.1", "10.5.0.7"]);
  for (const name of ["10.100.0.1", "10.5.0.7", "vip.example", "extra.example"]) t.ok(node.includes(name), name);
});

t.test("the API server's certificates: from the right CA each, for the right use, keys 0600; machined's admin kubeconfig", async (t) => {
  const dir = tempDir(t);
  const s = await secrets();
  const p = { pki: join(dir, "pki"), ...ports };
  await writeApiServerPki(s, ["kubernetes", "10.96.0.1", "127.0.0.1", "cp-1"], p);
  const f = controlPlaneFiles(p.pki);
  const ca = new X509Certificate(s.ca.crt);
  const etcdCa = new X509Certificate(s.etcdCa.crt);
  const proxyCa = new X509Certificate(s.frontProxyCa.crt);
  const expect = [
    [f.apiServerCert, ca, "CN=kube-apiserver", [serverAuth]],
    [f.kubeletClientCert, ca, "O=system:masters\nCN=kube-apiserver-kubelet-client", [clientAuth]],
    [f.etcdClientCert, etcdCa, "CN=kube-apiserver-etcd-client", [clientAuth]],
    [f.frontProxyClientCert, proxyCa, "CN=front-proxy-client", [clientAuth]],
  ] as const;
  for (const [file, issuer, subject, usages] of expect) {
    const cert = certAt(file);
    t.ok(cert.checkIssued(issuer) && cert.verify(issuer.publicKey), `${file} is signed by ${issuer.subject.replace(/\n/g, ", ")}`);
    t.equal(cert.subject, subject);
    t.same(cert.keyUsage, usages);
  }
  t.match(certAt(f.apiServerCert).subjectAltName, /DNS:kubernetes.*IP Address:10\.96\.0\.1.*IP Address:127\.0\.0\.1.*DNS:cp-1/);
  for (const key of [f.apiServerKey, f.kubeletClientKey, f.etcdClientKey, f.frontProxyClientKey, f.serviceAccountKey, f.adminKubeconfig]) {
    t.equal(statSync(key).mode & 0o777, 0o600, `${key} is 0600`);
  }
  t.equal(statSync(p.pki).mode & 0o777, 0o700, "the directory is root's alone");
  t.equal(readFileSync(f.etcdCa, "utf8"), s.etcdCa.crt);
  t.equal(readFileSync(f.frontProxyCa, "utf8"), s.frontProxyCa.crt);
  const pub = createPublicKey(readFileSync(f.serviceAccountPub));
  t.ok(pub.equals(createPublicKey(createPrivateKey(s.serviceAccountKey))), "sa.pub is cluster.serviceAccount.key's public half");
  const admin = kubeconfigAt(f.adminKubeconfig);
  t.equal(admin.server, "https://127.0.0.1:16443");
  t.equal(admin.client.subject, "O=system:masters\nCN=kiln:machined");
  t.ok(admin.client.checkIssued(ca) && admin.ca.raw.equals(ca.raw));
  t.equal(controlPlaneFiles().adminKubeconfig, controlPlanePaths.adminKubeconfig, "paths.ts names machined's admin kubeconfig");
});

t.test("the controller manager's and scheduler's kubeconfigs name their Kubernetes users; the CA key is 0600", async (t) => {
  const dir = tempDir(t);
  const s = await secrets();
  const p = { pki: join(dir, "pki"), ...ports };
  await writeControllerManagerPki(s, p);
  await writeSchedulerPki(s, p);
  const f = controlPlaneFiles(p.pki);
  const ca = new X509Certificate(s.ca.crt);
  for (const [file, cn] of [[f.controllerManagerKubeconfig, "system:kube-controller-manager"], [f.schedulerKubeconfig, "system:kube-scheduler"]] as const) {
    const k = kubeconfigAt(file);
    t.equal(k.client.subject, `CN=${cn}`);
    t.ok(k.client.checkIssued(ca), `${cn} from the cluster CA`);
    t.same(k.client.keyUsage, [clientAuth]);
    t.equal(k.server, "https://127.0.0.1:16443");
    t.equal(statSync(file).mode & 0o777, 0o600);
  }
  t.equal(readFileSync(f.caKey, "utf8"), s.ca.key);
  t.equal(statSync(f.caKey).mode & 0o777, 0o600);
  t.equal(statSync(f.serviceAccountKey).mode & 0o777, 0o600);
  t.equal(readFileSync(f.ca, "utf8"), s.ca.crt);
});
