// A control-plane sandbox with the Kubernetes control plane's programs
// (cluster create --control-plane DIR): before bootstrap kube-apiserver is
// waits for etcd, which says it is not bootstrapped; after `kilnctl bootstrap` etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler run, healthy,
// and the API server answers on the node's address with the cluster CA's
// certificate to a client certificate from that CA.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import YAML from "yaml";
import { kubeconfig } from "../../src/machined/services/control-plane-pki.js";
import { issueComponentCert } from "../../src/pki/certs.js";
import { decodeBase64Pem } from "../../src/pki/pem.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { createSandbox, destroySandbox, kilnctl, type Sandbox, services, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const bin = kubernetesDir();
const skip = !bin && process.env.CI !== "true" && "needs the Kubernetes programs (bash hack/kubernetes.sh)";
const dir = scratchDir("kiln-cp-sb-");
const name = "t-ctlplane";
let cp: Sandbox;

const ctl = (...args: string[]) => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", cp.endpoint, ...args]);
const serviceOf = (id: string) => services(cp).find((s) => s.id === id);
const runningHealthy = (id: string) => () => {
  const s = serviceOf(id);
  return s?.state === "Running" && s.healthy === true ? s : undefined;
};

t.test("the control plane runs as kiln services once bootstrapped", { skip, timeout: 600_000 }, async (t) => {
  if (!bin) return void t.fail("needs the Kubernetes programs (bash hack/kubernetes.sh)");
  const g = kilnctl(["gen", "config", "--name", "cpsb", "--endpoint", "127.0.0.1", "--out", dir]);
  t.equal(g.code, 0, g.stderr);
  const yaml = readFileSync(join(dir, "controlplane.yaml"), "utf8").replace(/^machine:\n/m, "machine:\n  hostname: cp-sb\n");
  cp = createSandbox(name, yaml, ["--control-plane", bin]);
  t.teardown(() => void destroySandbox(name));
  await waitFor("apid", () => ctl("version").code === 0, 30_000, 250);

  const before = await waitFor("kube-apiserver to wait for etcd", () => {
    const s = serviceOf("kube-apiserver");
    return s?.state === "Waiting" && s.message === "waiting for etcd" ? s : undefined;
  });
  t.ok(before, "before bootstrap it waits for etcd");
  t.match(serviceOf("etcd")?.message, /not bootstrapped: run `kilnctl bootstrap`/, "which says why");

  const b = ctl("bootstrap");
  t.equal(b.code, 0, b.stderr);
  const started = Date.now();
  const api = await waitFor("kube-apiserver Running and healthy", runningHealthy("kube-apiserver"), 300_000, 500).catch((err: Error) => {
    t.comment(JSON.stringify(services(cp)));
    throw err;
  });
  t.comment(`kube-apiserver: bootstrap to healthy in ${Date.now() - started} ms`);
  t.equal(api.restarts, 0, "the API server started once");
  for (const id of ["etcd", "kube-controller-manager", "kube-scheduler"]) {
    const s = await waitFor(`${id} Running and healthy`, runningHealthy(id), 180_000, 500);
    t.equal(s.restarts, 0, `${id} Running, healthy, started once`);
  }

  // From the host, on the node's address: the serving certificate names it, and a client certificate from the cluster CA gets in.
  const ca = YAML.parse(readFileSync(join(dir, "controlplane.yaml"), "utf8")).cluster.ca;
  const clusterCa = { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
  const admin = await issueComponentCert(clusterCa, { commonName: "test-admin", organizations: ["system:masters"], usages: ["client"] });
  const host = cp.endpoint.replace(/:\d+$/, "");
  writeFileSync(join(dir, "admin.kubeconfig"), kubeconfig(`https://${host}:6443`, clusterCa.crt, "test-admin", admin), { mode: 0o600 });
  const kubectl = (...args: string[]) => spawnSync(join(bin, "kubectl"), [`--kubeconfig=${join(dir, "admin.kubeconfig")}`, ...args], { encoding: "utf8", timeout: 30_000 });
  const readyz = kubectl("get", "--raw", "/readyz");
  t.equal(readyz.stdout.trim(), "ok", `/readyz on ${host}:6443 (${readyz.stderr})`);
  const lease = await waitFor("the controller manager's lease", () => kubectl("-n", "kube-system", "get", "lease", "kube-controller-manager", "-o", "jsonpath={.spec.holderIdentity}").stdout.trim() || undefined, 120_000, 1000);
  t.match(lease, /^cp-sb_/, "the controller manager on cp-sb holds its leader lease");
});
