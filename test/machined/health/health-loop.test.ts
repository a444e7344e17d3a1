import t from "tap";
import { checkOnce, type HealthState, runHealthLoop } from "../../../src/machined/health/health-loop.js";
import type { HealthCheck } from "../../../src/machined/service.js";
import { type Teardown, tempDir, testContext, waitFor } from "../helpers.js";

/** Runs a loop over `check` until teardown, collecting its changes. */
/** A loop with no start period unless the test asks for one (most tests are about what follows it). */
function loop(t: Teardown, check: HealthCheck, spec: { initialDelayMs?: number; intervalMs?: number; timeoutMs?: number; startPeriodMs?: number } = {}) {
  const ac = new AbortController();
  const changes: HealthState[] = [];
  const done = runHealthLoop({ check, intervalMs: 5, startPeriodMs: 0, ...spec }, testContext(tempDir(t)), ac.signal, (s) => changes.push(s));
  t.teardown(async () => {
    ac.abort();
    await done;
  });
  return { changes, stop: () => ac.abort(), done };
}

t.test("reports healthy → unhealthy → healthy, each change once, with the reason and time", async (t) => {
  const results = [true, true, false, false, true];
  let i = 0;
  const check: HealthCheck = async () => {
    const ok = results[Math.min(i++, results.length - 1)];
    if (!ok) throw new Error("connection refused");
  };
  const l = loop(t, check);
  await waitFor("3 changes", () => l.changes.length >= 3);
  t.same(
    l.changes.map((c) => [c.healthy, c.message]),
    [
      [true, ""],
      [false, "connection refused"],
      [true, ""],
    ],
  );
  t.ok(l.changes.every((c) => c.changedAt instanceof Date));
});

t.test("reports a message change while unhealthy, keeping the time of the flip", async (t) => {
  const messages = ["refused", "reset", "reset"];
  let i = 0;
  const l = loop(t, async () => {
    throw new Error(messages[Math.min(i++, 2)]);
  });
  await waitFor("2 changes", () => l.changes.length >= 2);
  t.equal(l.changes[1]!.message, "reset");
  t.equal(l.changes[1]!.changedAt, l.changes[0]!.changedAt);
});

t.test("waits the initial delay before the first check", async (t) => {
  let first = 0;
  const t0 = Date.now();
  const check = async () => {
    first ||= Date.now();
  };
  const l = loop(t, check, { initialDelayMs: 100 });
  await waitFor("a result", () => l.changes.length > 0);
  t.ok(first - t0 >= 95, `first check after ${first - t0} ms`);
});

t.test("fails a check that outlives its timeout, even one ignoring the signal", async (t) => {
  const spec = { check: () => new Promise<void>(() => {}), timeoutMs: 50 };
  const r = await checkOnce(spec, testContext(tempDir(t)), new AbortController().signal);
  t.same(r, { healthy: false, message: "health check timed out after 50 ms" });
});

t.test("stops checking when aborted", async (t) => {
  let n = 0;
  const l = loop(t, async () => void n++);
  await waitFor("some checks", () => n > 2);
  l.stop();
  await l.done;
  const after = n;
  await new Promise((r) => setTimeout(r, 30));
  t.equal(n, after);
});

t.test("keeps health unknown while a service is still starting, retrying soon", async (t) => {
  let calls = 0;
  const l = loop(t, async () => {
    if (++calls < 4) throw new Error("connection refused");
  }, { intervalMs: 60_000, startPeriodMs: 5000 });
  await waitFor("healthy", () => l.changes.some((c) => c.healthy === true));
  t.same(l.changes.map((c) => c.healthy), [true], "no unhealthy report while starting");
  t.equal(calls, 4, "failed checks were retried without waiting the 60 s interval");
});

t.test("reports unhealthy once the start period is over without a success", async (t) => {
  const l = loop(t, async () => {
    throw new Error("connection refused");
  }, { intervalMs: 5, startPeriodMs: 100 });
  await waitFor("unhealthy", () => l.changes.some((c) => c.healthy === false), 5000);
  t.equal(l.changes[0]!.message, "connection refused");
});
