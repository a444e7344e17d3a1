// prespawn over a real child: what it says before it is taken reaches the
// log, the arguments arrive as one JSON line on stdin, it is taken once, a
// dead one is not taken, and discard ends one nobody took.
import t from "tap";
import { prespawn } from "../../../src/machined/supervisor/prespawn.js";
import { noCgroups } from "../../../src/machined/supervisor/cgroups.js";
import { alive, fixture, memorySink, waitFor } from "../helpers.js";

const deps = { cgroups: noCgroups };

t.test("taken: its early output and then its own reach the log; the arguments come on stdin", async (t) => {
  const early = prespawn(fixture("args-on-stdin.js"), {}, deps);
  await new Promise((r) => setTimeout(r, 300));
  const log = memorySink();
  const proc = early.take(["--port", "50000", "a b"], log);
  t.ok(proc && proc.pid > 0);
  t.teardown(() => proc?.killAll());
  await waitFor("the echoed arguments", () => log.text().includes("args"), 10_000);
  t.equal(log.text(), 'up\nargs ["--port","50000","a b"]\n');
  t.equal(early.take(["again"], memorySink()), undefined, "taken once");
  early.discard();
  t.ok(alive(proc!.pid), "discard leaves a taken process alone");
});

t.test("a process that died is not taken: the start spawns anew", async (t) => {
  const early = prespawn(fixture("exit-with.js", "0"), {}, deps);
  t.ok(early.pid > 0);
  await waitFor("it exits", () => !alive(early.pid), 10_000);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(early.take([], memorySink()), undefined);
});

t.test("discard ends one nobody took", async (t) => {
  const early = prespawn(fixture("args-on-stdin.js"), {}, deps);
  t.ok(alive(early.pid));
  early.discard();
  await waitFor("it is killed", () => !alive(early.pid), 10_000);
  t.equal(early.take(["late"], memorySink()), undefined, "not taken after discard");
});

t.test("a program that cannot start is not taken", async (t) => {
  const early = prespawn(["/nonexistent/program"], {}, deps);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(early.take([], memorySink()), undefined);
});
