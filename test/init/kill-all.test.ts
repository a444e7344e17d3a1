import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import { killAll } from "../../src/init/kill-all.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { fakeProc, removeProcess } from "./fake-proc.js";
import { needsRoot } from "./needs-root.js";

const TERM = 15;
const KILL = 9;
const kthread = 0x00200000;

/** A pid namespace seen from its PID 1: us, a kernel thread, a zombie, and two processes. */
function machine() {
  return fakeProc([
    { pid: 1, ppid: 0, state: "S" },
    { pid: 2, ppid: 0, state: "S", comm: "kthreadd", flags: kthread },
    { pid: 10, ppid: 1, state: "Z" },
    { pid: 20, ppid: 1, state: "S" },
    { pid: 21, ppid: 20, state: "R" },
  ]);
}

t.test("sends TERM to everyone and stops there when they all go", async (t) => {
  const proc = machine();
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 1 });
  sys.respond("kill", () => {
    for (const pid of [20, 21]) removeProcess(proc.root, pid);
  });
  await killAll(sys, 1000, { procRoot: proc.root, pollMs: 5 });
  t.same(sys.argsOf("kill"), [[-1, TERM]]);
});

t.test("sends KILL after the grace when someone stays", async (t) => {
  const proc = machine();
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 1 });
  sys.respond("kill", (_pid: number, sig: number) => {
    removeProcess(proc.root, 20);
    if (sig === KILL) removeProcess(proc.root, 21);
  });
  const logged: string[] = [];
  const started = performance.now();
  await killAll(sys, 100, { procRoot: proc.root, pollMs: 5, log: (l) => logged.push(l) });
  t.ok(performance.now() - started >= 95, "waited the grace");
  t.same(sys.argsOf("kill"), [[-1, TERM], [-1, KILL]]);
  t.same(logged, ["killAll: 1 processes left after 100 ms; sending SIGKILL"]);
});

t.test("is done at once when there is no one to signal", async (t) => {
  const sys = createFakeSys({ pid: 1 });
  sys.failOn("kill", undefined, "ESRCH");
  await killAll(sys, 10_000, { procRoot: "/nonexistent" });
  t.same(sys.argsOf("kill"), [[-1, TERM]]);
});

t.test("refuses to run when it is not PID 1", async (t) => {
  const sys = createFakeSys({ pid: 4242 });
  await t.rejects(killAll(sys, 0), /refusing kill\(-1\) as pid 4242/);
  t.same(sys.argsOf("kill"), []);
});

t.test("really ends every process of a pid namespace, the TERM-proof one by KILL", async (t) => {
  if (!needsRoot(t)) return;
  const fixture = new URL("../fixtures/init/kill-all.ts", import.meta.url).pathname;
  const args = ["--pid", "--fork", "--mount-proc", process.execPath, "--import", "tsx", fixture, "300"];
  const { stdout } = await promisify(execFile)("unshare", args);
  const report = JSON.parse(stdout);
  t.equal(report.pid, 1);
  t.ok(report.before >= 3, `${report.before} processes before`);
  t.same(report.left, []);
  t.same(report.exits, { polite: "SIGTERM", stubborn: "SIGKILL" });
  t.ok(report.ms >= 290 && report.ms < 2000, `took ${report.ms} ms`);
});
