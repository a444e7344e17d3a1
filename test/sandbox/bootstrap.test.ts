// A control-plane sandbox: etcd waits, saying it is not bootstrapped, until an
// admin runs `kilnctl bootstrap` through apid; then the image's etcd runs, healthy,
// as a one-member cluster. A second bootstrap, a reader's and a worker's are
// refused, each saying why.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createSandbox, destroySandbox, kilnctl, type Sandbox, services, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-boot-");
let cp: Sandbox;
let wk: Sandbox;

/** A config of the generated cluster with its own hostname. */
const config = (file: string, hostname: string) => readFileSync(join(dir, file), "utf8").replace(/^machine:\n/m, `machine:\n  hostname: ${hostname}\n`);
const ctl = (sb: Sandbox, ...args: string[]) => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", sb.endpoint, ...args]);
const etcdOf = (sb: Sandbox) => services(sb).find((s) => s.id === "etcd");

t.before(async () => {
  const g = kilnctl(["gen", "config", "--name", "boot", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  cp = createSandbox("t-boot-cp", config("controlplane.yaml", "boot-cp"));
  wk = createSandbox("t-boot-wk", config("standalone.yaml", "boot-wk"));
  await waitFor("the control plane's apid", () => ctl(cp, "version").code === 0, 30_000, 250);
  await waitFor("the worker's apid", () => ctl(wk, "version").code === 0, 30_000, 250);
});
t.teardown(() => {
  destroySandbox("t-boot-cp");
  destroySandbox("t-boot-wk");
});

t.test("before bootstrap, etcd waits on the control plane, saying how to bootstrap; a worker runs none", async (t) => {
  const etcd = await waitFor("etcd to wait for the cluster", () => {
    const s = etcdOf(cp);
    return s?.state === "Waiting" && s.message.includes("etcd") ? s : undefined;
  });
  t.match(etcd.message, /not bootstrapped: run `kilnctl bootstrap` on one control-plane node; the others join its cluster by themselves/);
  t.match(etcdOf(wk)?.message, /this machine is a worker/);
});

t.test("a reader may not bootstrap; a worker refuses", async (t) => {
  const reader = join(dir, "reader.kilnconfig");
  t.equal(kilnctl(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:reader", "--out", reader]).code, 0);
  const r = kilnctl(["--kilnconfig", reader, "-e", cp.endpoint, "bootstrap"]);
  t.not(r.code, 0, "refused");
  t.match(r.stderr, /role os:reader may not call/);
  const w = ctl(wk, "bootstrap");
  t.not(w.code, 0);
  t.match(w.stderr, /this machine is a worker: bootstrap one control-plane node/);
});

t.test("bootstrap founds etcd: it runs, healthy; a second bootstrap is refused", async (t) => {
  const b = ctl(cp, "bootstrap", "-o", "json");
  t.equal(b.code, 0, b.stderr);
  t.match([JSON.parse(b.stdout)].flat(), [{ node: "boot-cp", message: /etcd starts as a new cluster on this node/ }]);
  const etcd = await waitFor("etcd to run, healthy", () => {
    const s = etcdOf(cp);
    return s?.state === "Running" && s.healthy === true ? s : undefined;
  }, 60_000, 250);
  t.equal(etcd.restarts, 0, "started once");
  const again = ctl(cp, "bootstrap");
  t.not(again.code, 0);
  t.match(again.stderr, /bootstrapped already .*a cluster is bootstrapped once|already holds a member/);
  const seq = kilnctl(["-e", cp.localEndpoint, "get", "sequences", "--all", "-o", "json"]);
  t.match(seq.stdout, /"sequence": "bootstrap"/, "the bootstrap ran as a sequence, in the timeline");
});
