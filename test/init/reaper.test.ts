import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import { startReaper } from "../../src/init/reaper.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { WNOHANG } from "../../src/sys/sys.js";
import { addProcess, fakeProc, removeProcess } from "./fake-proc.js";

const fixture = new URL("../fixtures/init/reaper-subreaper.ts", import.meta.url).pathname;

/** Runs the subreaper fixture and parses its report. */
async function runFixture(intervalMs: number) {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", fixture, String(intervalMs)]);
  return JSON.parse(stdout);
}

t.test("reaps orphan zombies through waitpid(pid, WNOHANG) and reports each", async (t) => {
  const proc = fakeProc([
    { pid: 50, ppid: 1, state: "S" },
    { pid: 51, ppid: 50, state: "Z" },
    { pid: 52, ppid: 50, state: "Z" },
    { pid: 53, ppid: 50, state: "S" },
  ]);
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 50 });
  sys.respond("waitpid", (pid: number) => {
    removeProcess(proc.root, pid);
    return { pid, status: 3 << 8 };
  });
  const reaped: [number, number][] = [];
  const reaper = startReaper({ sys, procRoot: proc.root, onReap: (pid, status) => reaped.push([pid, status]) });
  t.teardown(reaper.stop);
  t.equal(reaper.reapNow(), 2);
  t.same(sys.argsOf("waitpid").sort(), [[51, WNOHANG], [52, WNOHANG]]);
  t.same(reaped.sort(), [[51, 3 << 8], [52, 3 << 8]]);
  t.equal(reaper.stats.reaped, 2);
  t.equal(reaper.reapNow(), 0, "nothing left the second time");
});

t.test("treats ECHILD as reaped by someone else, not as an error", async (t) => {
  const proc = fakeProc([{ pid: 60, ppid: 1, state: "S" }, { pid: 61, ppid: 60, state: "Z" }]);
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 60 });
  sys.failOn("waitpid", undefined, "ECHILD");
  const reaper = startReaper({ sys, procRoot: proc.root });
  t.teardown(reaper.stop);
  t.equal(reaper.reapNow(), 0);
});

t.test("a SIGCHLD storm is one scan per event-loop turn", async (t) => {
  const proc = fakeProc([{ pid: 70, ppid: 1, state: "S" }]);
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 70 });
  sys.respond("waitpid", (pid: number) => ({ pid, status: 0 }));
  const reaper = startReaper({ sys, procRoot: proc.root, intervalMs: 60_000 });
  t.teardown(reaper.stop);
  addProcess(proc.root, { pid: 71, ppid: 70, state: "Z" });
  for (let i = 0; i < 50; i++) process.emit("SIGCHLD", "SIGCHLD");
  await new Promise((resolve) => setImmediate(resolve));
  t.same(sys.argsOf("waitpid"), [[71, WNOHANG]], "reaped once, by one scan");
});

t.test("as a subreaper, leaves no zombie of 200 orphans and keeps our child's exit code", async (t) => {
  const report = await runFixture(60_000); // a long timer: SIGCHLD alone must do it
  t.equal(report.zombieWhenScanned, true, "our child was a zombie during a scan");
  t.equal(report.reapedWhileZombie, 0, "and the scan left it to libuv");
  t.equal(report.exitCode, 7);
  t.equal(report.reaped, 200);
  t.same(report.left, []);
  t.ok(report.ms < 2000, `done in ${report.ms} ms`);
});

t.test("the slow timer reaps a zombie no SIGCHLD announced", async (t) => {
  const proc = fakeProc([{ pid: 80, ppid: 1, state: "S" }]);
  t.teardown(proc.cleanup);
  const sys = createFakeSys({ pid: 80 });
  sys.respond("waitpid", (pid: number) => ({ pid, status: 0 }));
  const reaper = startReaper({ sys, procRoot: proc.root, intervalMs: 30 });
  t.teardown(reaper.stop);
  addProcess(proc.root, { pid: 81, ppid: 80, state: "Z" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(sys.argsOf("waitpid")[0], [81, WNOHANG]);
});

t.test("stop removes the SIGCHLD listener and the timer", async (t) => {
  const before = process.listenerCount("SIGCHLD");
  const reaper = startReaper({ sys: createFakeSys({ pid: 90 }), procRoot: "/nonexistent" });
  t.equal(process.listenerCount("SIGCHLD"), before + 1);
  reaper.stop();
  t.equal(process.listenerCount("SIGCHLD"), before);
});

t.test("children spawned from a worker thread keep their exit statuses while the main thread reaps", async (t) => {
  const worker = new URL("../fixtures/init/reaper-worker.ts", import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", worker], { timeout: 30_000 });
  const report = JSON.parse(stdout);
  t.same(report, { exitCodes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], reaped: 0 });
});
