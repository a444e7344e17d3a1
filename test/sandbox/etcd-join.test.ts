// Two control-plane sandboxes with the Kubernetes control plane's programs:
// one is bootstrapped, the other joins its etcd by itself (found through the
// API server at its endpoint, added as a learner, promoted) and runs its own
// API server on the shared store. A bootstrap of the joined node is refused.
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
const dir = scratchDir("kiln-join-sb-");
const forward = "/proc/sys/net/ipv4/ip_forward";

const ctl = (sb: Sandbox, ...args: string[]) => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", sb.endpoint, ...args]);
const serviceOf = (sb: Sandbox, id: string) => services(sb).find((s) => s.id === id);
const runningHealthy = (sb: Sandbox, id: string) => () => {
  const s = serviceOf(sb, id);
  return s?.state === "Running" && s.healthy === true ? s : undefined;
};

t.test("a second control plane joins the bootstrapped one's etcd by itself", { skip, timeout: 900_000 }, async (t) => {
  if (!bin) return void t.fail("needs the Kubernetes programs (bash hack/kubernetes.sh)");
  const g = kilnctl(["gen", "config", "--name", "joinsb", "--endpoint", "127.0.0.1", "--out", dir]);
  t.equal(g.code, 0, g.stderr);
  const yaml = readFileSync(join(dir, "controlplane.yaml"), "utf8");
  const named = (text: string, hostname: string) => text.replace(/^machine:\n/m, `machine:\n  hostname: ${hostname}\n`);
  // Sandboxes reach each other through the host.
  const saved = readFileSync(forward, "utf8").trim();
  writeFileSync(forward, "1");
  t.teardown(() => writeFileSync(forward, saved));
  const first = createSandbox("t-join-1", named(yaml, "join-1"), ["--control-plane", bin]);
  t.teardown(() => void destroySandbox("t-join-1"));
  // The second one's endpoint is the first one's API server, as `gen config --endpoint` would write for a real cluster.
  const second = createSandbox("t-join-2", named(yaml, "join-2").replace("https://127.0.0.1:6443", `https://${first.address}:6443`), ["--control-plane", bin]);
  t.teardown(() => void destroySandbox("t-join-2"));
  await waitFor("both apids", () => ctl(first, "version").code === 0 && ctl(second, "version").code === 0, 30_000, 250);

  const waiting = await waitFor("the second one's etcd to wait", () => {
    const s = serviceOf(second, "etcd");
    return s?.state === "Waiting" && /no cluster found yet/.test(s.message) ? s : undefined;
  }, 60_000, 500);
  t.match(waiting.message, /not bootstrapped: run `kilnctl bootstrap` on one control-plane node; the others join its cluster by themselves\): no cluster found yet/, "before the bootstrap: it says so, and why it has not joined");

  const b = ctl(first, "bootstrap");
  t.equal(b.code, 0, b.stderr);
  await waitFor("the first API server healthy", runningHealthy(first, "kube-apiserver"), 300_000, 1000);
  const started = Date.now();
  const etcd = await waitFor("the second etcd Running, healthy (a voting member)", runningHealthy(second, "etcd"), 300_000, 1000).catch((err: Error) => {
    t.comment(JSON.stringify(services(second)));
    throw err;
  });
  t.comment(`join: first API server healthy to the second etcd voting in ${Date.now() - started} ms`);
  t.ok(etcd, "the second node's etcd joined and was promoted");
  await waitFor("the second API server healthy", runningHealthy(second, "kube-apiserver"), 300_000, 1000);

  // One store: what is written through one API server is read through the other.
  const ca = YAML.parse(yaml).cluster.ca;
  const clusterCa = { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
  const admin = await issueComponentCert(clusterCa, { commonName: "test-admin", organizations: ["system:masters"], usages: ["client"] });
  const kubectl = (sb: Sandbox, ...args: string[]) => {
    const file = join(dir, `${sb.name}.kubeconfig`);
    writeFileSync(file, kubeconfig(`https://${sb.address}:6443`, clusterCa.crt, "test-admin", admin), { mode: 0o600 });
    return spawnSync(join(bin, "kubectl"), [`--kubeconfig=${file}`, ...args], { encoding: "utf8", timeout: 30_000 });
  };
  const made = kubectl(first, "create", "configmap", "joined", "--from-literal=via=join-1");
  t.equal(made.status, 0, made.stderr);
  t.equal(kubectl(second, "get", "configmap", "joined", "-o", "jsonpath={.data.via}").stdout, "join-1", "read back through the second API server");
  const endpoints = await waitFor("both API servers in the kubernetes Endpoints", () => {
    const ips = kubectl(second, "get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}").stdout.trim().split(/\s+/).sort();
    return ips.length === 2 ? ips : undefined;
  }, 120_000, 2000);
  t.same(endpoints, [first.address, second.address].sort());

  const again = ctl(second, "bootstrap");
  t.not(again.code, 0, "a bootstrap of the joined node is refused");
  t.match(again.stderr, /joined the cluster's etcd already|holds a member of a cluster/);
});
