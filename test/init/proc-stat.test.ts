import t from "tap";
import { listChildren, listPids, parseStat, readStat } from "../../src/init/proc-stat.js";
import { fakeProc, statLine } from "./fake-proc.js";

t.test("parses pid, comm, state, ppid and flags from a stat line", async (t) => {
  t.same(parseStat(statLine({ pid: 42, ppid: 1, state: "S", comm: "sleep", flags: 0x400100 })), {
    value: { pid: 42, comm: "sleep", state: "S", ppid: 1, flags: 0x400100 },
  });
});

t.test("splits at the last ')' so a comm with spaces and parentheses parses", async (t) => {
  const parsed = parseStat(statLine({ pid: 7, ppid: 3, state: "Z", comm: "a) Z 99 (b c)" }));
  t.same(parsed, { value: { pid: 7, comm: "a) Z 99 (b c)", state: "Z", ppid: 3, flags: 0x400000 } });
});

t.test("returns an error value for a line that is not a stat line", async (t) => {
  t.match(parseStat("garbage"), { error: /no "\(comm\)"/ });
  t.match(parseStat("12 (x) Z notanumber"), { error: /malformed stat line/ });
});

t.test("reads our own real stat", async (t) => {
  t.match(readStat("/proc", process.pid), { pid: process.pid, ppid: process.ppid, state: "R" });
  t.equal(readStat("/proc", 2 ** 22 + 1), undefined, "a missing process is undefined");
});

t.test("lists numeric entries only", async (t) => {
  const proc = fakeProc([{ pid: 1, ppid: 0, state: "S" }, { pid: 20, ppid: 1, state: "S" }]);
  t.teardown(proc.cleanup);
  t.same(listPids(proc.root).sort((a, b) => a - b), [1, 20]);
});

t.test("collects children from every thread's children file", async (t) => {
  const proc = fakeProc([{ pid: 10, ppid: 1, state: "S" }], { self: 10, threads: { 10: [11, 12], 13: [14] } });
  t.teardown(proc.cleanup);
  t.same(listChildren(proc.root, 10)?.sort(), [11, 12, 14]);
});

t.test("says undefined when the kernel has no children files", async (t) => {
  const proc = fakeProc([{ pid: 10, ppid: 1, state: "S" }]);
  t.teardown(proc.cleanup);
  t.equal(listChildren(proc.root, 10), undefined);
});

t.test("finds our real child in the real children files", async (t) => {
  const { spawn } = await import("node:child_process");
  const child = spawn("sleep", ["5"]);
  t.teardown(() => child.kill());
  t.ok(listChildren("/proc", process.pid)?.includes(child.pid ?? -1));
});
