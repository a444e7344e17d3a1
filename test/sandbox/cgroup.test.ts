// Two sandboxes, each in its own cgroup subtree and namespace: destroying one
// kills nothing of the other (issue 11, finding 11: /system/apid used to be
// one cgroup shared by every sandbox, so the first's shutdown killed the
// second's apid and containerd, which the supervisor then restarted).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { hostCgroupOf } from "../../src/provision/sandbox/cgroup.js";
import { createSandbox, destroySandbox, kilnctl, type Sandbox, type ServiceRow, services, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-cg-");
let a: Sandbox;
let b: Sandbox;

/** The generated worker config with its own hostname (containerd runs, as on a node). */
const worker = (hostname: string) => readFileSync(join(dir, "standalone.yaml"), "utf8").replace(/^machine:\n/m, `machine:\n  hostname: ${hostname}\n`);

/** The services that run, by id, with their PID and restart count. */
const running = (sb: Sandbox) => services(sb).filter((s: ServiceRow) => s.state === "Running" && s.pid > 0);

/** The machine's cgroup subtree on the host. */
const subtree = (sb: Sandbox) => hostCgroupOf(sb.name, sb.stateDir)!.dir;

t.before(async () => {
  const g = kilnctl(["gen", "config", "--name", "cg", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  a = createSandbox("t-cg-a", worker("cg-a"));
  b = createSandbox("t-cg-b", worker("cg-b"));
  for (const sb of [a, b]) {
    await waitFor(`${sb.name}'s apid and containerd`, () => ["apid", "containerd"].every((id) => running(sb).some((s) => s.id === id)), 60_000, 250);
  }
});
t.teardown(() => {
  destroySandbox("t-cg-a");
  destroySandbox("t-cg-b");
});

t.test("each sandbox's PID 1 lives in the leaf /init of its own subtree, the root of its cgroup namespace", async (t) => {
  t.not(subtree(a), subtree(b));
  for (const sb of [a, b]) {
    t.match(readFileSync(`/proc/${sb.pid}/cgroup`, "utf8"), new RegExp(`^0::/kiln/${sb.name}-[0-9a-f]{8}/init$`, "m"), `${sb.name} on the host`);
    t.ok(existsSync(join(subtree(sb), "system", "apid")), `${sb.name}'s apid cgroup is under its subtree`);
  }
  t.equal(readFileSync(join(subtree(b), "cgroup.procs"), "utf8"), "", "the namespace's root holds no process");
  const [controller] = readFileSync(join(subtree(b), "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean);
  if (controller) {
    // No internal processes: so the machine (its kubelet, runc) may hand controllers to its children.
    writeFileSync(join(subtree(b), "cgroup.subtree_control"), `+${controller}`);
    writeFileSync(join(subtree(b), "cgroup.subtree_control"), `-${controller}`);
    t.pass(`the ${controller} controller can be enabled at the machine's root`);
  }
  const r = kilnctl(["-e", b.localEndpoint, "read", "/proc/1/cgroup"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^0::\/init$/m, "inside, PID 1 sees itself in /init");
});

t.test("destroying one sandbox leaves the other's services running untouched", async (t) => {
  const before = running(b);
  t.ok(before.length >= 2, `b runs services: ${before.map((s) => s.id).join(", ")}`);
  const aTree = subtree(a);
  t.equal(destroySandbox("t-cg-a").code, 0);
  t.notOk(existsSync(aTree), "a's subtree is removed");
  await new Promise((r) => setTimeout(r, 5000)); // let any damage show: a killed service is restarted within seconds
  const after = new Map(services(b).map((s) => [s.id, s]));
  for (const s of before) {
    t.match(after.get(s.id), { state: "Running", pid: s.pid, restarts: s.restarts }, `b's ${s.id} kept its PID and restart count`);
  }
  t.ok(existsSync(subtree(b)), "b's subtree is still there");
  t.ok(existsSync(join(subtree(b), "system", "apid")), "and its apid cgroup in it");
});
