import t from "tap";
import type { RestartPolicy } from "../../../src/machined/service.js";
import { type LoopEvent, restartLoop } from "../../../src/machined/supervisor/restart.js";
import { fakeRunner, memorySink, waitFor } from "../helpers.js";

const fast = { initialMs: 5, maxMs: 40, resetAfterMs: 10_000 };

/** A loop over a fake runner, recording its events. */
function loop(policy: RestartPolicy, fake = fakeRunner()) {
  const events: LoopEvent[] = [];
  const l = restartLoop(fake.runner, policy, { log: memorySink(), backoff: fast, onEvent: (e) => events.push(e) });
  return { ...fake, events, loop: l };
}

t.test("restarts a crashed process until stopped (forever)", async (t) => {
  const x = loop("forever", fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 1 })) }));
  await waitFor("4 runs", () => x.runs.length >= 4);
  t.equal(await x.loop.stop(100), "stopped");
  await x.loop.done;
  const n = x.runs.length;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(x.runs.length, n, "no start after stop");
});

t.test("restarts forever even after a clean exit", async (t) => {
  const x = loop("forever", fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 0 })) }));
  await waitFor("3 runs", () => x.runs.length >= 3);
  await x.loop.stop(100);
  t.ok(x.events.some((e) => e.t === "waiting" && e.message.startsWith("exited with code 0; restarting in")));
});

t.test("shows the growing delay in the waiting message", async (t) => {
  const x = loop("forever", fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 1 })) }));
  await waitFor("4 runs", () => x.runs.length >= 4);
  await x.loop.stop(100);
  const waits = x.events.flatMap((e) => (e.t === "waiting" ? [e.delayMs] : []));
  t.same(waits.slice(0, 3), [5, 10, 20]);
  t.match(x.events.find((e) => e.t === "waiting"), { message: "exited with code 1; restarting in 0.0s" });
});

t.test("once: never restarts; a failure ends not ok with the exit code", async (t) => {
  const x = loop("once", fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 3 })) }));
  await x.loop.done;
  t.equal(x.runs.length, 1);
  t.same(x.events.at(-1), { t: "ended", ok: false, message: "exited with code 3" });
});

t.test("until-success: restarts after failures, ends ok after exit 0", async (t) => {
  let n = 0;
  const x = loop("until-success", fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: ++n < 3 ? 2 : 0 })) }));
  await x.loop.done;
  t.equal(x.runs.length, 3);
  t.same(x.events.at(-1), { t: "ended", ok: true, message: "exited with code 0" });
});

t.test("a runner that throws on start counts as a failed run", async (t) => {
  const events: LoopEvent[] = [];
  const runner = {
    start(): never {
      throw new Error("starting x", { cause: new Error("spawn x ENOENT") });
    },
  };
  await restartLoop(runner, "once", { log: memorySink(), onEvent: (e) => events.push(e) }).done;
  t.same(events, [{ t: "ended", ok: false, message: "failed to start: starting x: spawn x ENOENT" }]);
});

t.test("stop sends TERM, waits the grace, then kills the whole group", async (t) => {
  const x = loop("forever", fakeRunner({ ignoreTerm: true }));
  await waitFor("a run", () => x.runs.length === 1);
  const t0 = Date.now();
  t.equal(await x.loop.stop(80), "killed after 80 ms grace");
  t.ok(Date.now() - t0 >= 75, "waited the grace");
  t.same(x.last().signals, ["SIGTERM"]);
  t.equal(x.last().killedAll, true);
});

t.test("stop kills the group even after a graceful exit (grandchildren)", async (t) => {
  const x = loop("forever");
  await waitFor("a run", () => x.runs.length === 1);
  t.equal(await x.loop.stop(1000), "stopped");
  t.equal(x.last().killedAll, true);
});

t.test("stop during backoff cancels the pending restart", async (t) => {
  const events: LoopEvent[] = [];
  const fake = fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 1 })) });
  const l = restartLoop(fake.runner, "forever", {
    log: memorySink(),
    backoff: { initialMs: 10_000, maxMs: 10_000, resetAfterMs: 60_000 },
    onEvent: (e) => events.push(e),
  });
  await waitFor("backoff", () => events.some((e) => e.t === "waiting"));
  const t0 = Date.now();
  await l.stop(100);
  t.ok(Date.now() - t0 < 1000);
  t.equal(fake.runs.length, 1);
});
