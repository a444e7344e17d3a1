import t from "tap";
import { querySntp } from "../../../src/machined/time/sntp-query.js";
import { createTimeSync, type TimeSyncDeps } from "../../../src/machined/time/time-sync.js";
import { createFakeSys, type FakeSys } from "../../../src/sys/fake.js";
import { CLOCK } from "../../../src/sys/sys.js";
import { startResponder } from "./ntp-responder.js";

const year = 365 * 86_400_000;

/** A fake machine clock `skewMs` off the real one, which clockSettime moves like the kernel would. */
function fakeClock(sys: FakeSys, skewMs: number) {
  const clock = { skewMs };
  sys.respond("clockGettime", () => BigInt(Math.round((Date.now() + clock.skewMs) * 1e6)));
  sys.respond("clockSettime", (_c: number, ns: bigint) => {
    clock.skewMs = Number(ns) / 1e6 - Date.now();
  });
  return { clock, now: () => Date.now() + clock.skewMs };
}

/** Scheduled rounds, fired by hand. */
function manualTimers() {
  const pending: { fn: () => void; ms: number }[] = [];
  const setTimer = (fn: () => void, ms: number) => {
    const entry = { fn, ms };
    pending.push(entry);
    return () => {
      const at = pending.indexOf(entry);
      if (at >= 0) pending.splice(at, 1);
    };
  };
  return { pending, setTimer, fire: () => pending.shift()?.fn() };
}

/** Resolves once `check` holds (polling every 5 ms), or fails after 3 s. */
async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 3_000; !check(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error("condition not met in 3 s");
}

/** A time sync over the fake sys, asking the responder at `port`, its timers by hand. */
function setup(sys: FakeSys, now: () => number, port: number, extra: Partial<TimeSyncDeps> = {}) {
  const timers = manualTimers();
  const logs: string[] = [];
  const steps: number[] = [];
  const sync = createTimeSync({
    sys,
    log: (l) => logs.push(l),
    adjust: true,
    onStep: (ms) => steps.push(ms),
    query: (server) => querySntp(server, { now, timeoutMs: 500, port }),
    setTimer: timers.setTimer,
    ...extra,
  });
  return { sync, timers, logs, steps };
}

t.test("without servers it is disabled and asks nobody", async (t) => {
  const sys = createFakeSys();
  const { sync, timers } = setup(sys, () => Date.now(), 9);
  sync.apply([]);
  t.equal(sync.status().state, "disabled");
  t.equal(timers.pending.length, 0);
  t.equal(sys.calls.length, 0);
});

t.test("a clock a year slow is stepped at the first sync, then slewed, and the poll grows", async (t) => {
  const server = await startResponder({ now: () => Date.now() });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { clock, now } = fakeClock(sys, -year);
  const { sync, timers, logs, steps } = setup(sys, now, server.port);
  sync.apply(["127.0.0.1"]);
  t.equal(sync.status().state, "unsynchronized", "nothing asked yet");
  t.same(timers.pending.map((p) => p.ms), [0], "the first round at once");
  timers.fire();
  await until(() => sync.status().state === "synchronized");

  const first = sync.status();
  t.equal(first.correction, "step");
  t.ok(Math.abs((first.offsetMs ?? 0) - year) < 50, `measured a year (${(first.offsetMs ?? 0) - year} ms off)`);
  t.ok(Math.abs(clock.skewMs) < 50, `the clock is right after the step (${clock.skewMs} ms)`);
  t.equal(sys.argsOf("clockSettime")[0]?.[0], CLOCK.REALTIME);
  t.equal(steps.length, 1, "onStep told");
  t.ok(Math.abs((first.lastSync?.getTime() ?? 0) - Date.now()) < 1_000, "last sync by the corrected clock");
  t.equal(first.server, "127.0.0.1");
  t.match(logs.join("\n"), /time: stepped the clock by \+3153(5999|6000)\.\d{3} s \(127\.0\.0\.1, delay/);
  t.same(timers.pending.map((p) => p.ms), [64_000], "next round in 64 s");

  clock.skewMs = -40; // 40 ms slow now: slewed, not stepped
  timers.fire();
  await until(() => sys.argsOf("adjtimex").length === 2);
  t.equal(sync.status().correction, "slew");
  t.equal(sys.argsOf("clockSettime").length, 1, "no second step");
  const tx = sys.argsOf("adjtimex")[1]?.[0] as { offset: number };
  t.ok(Math.abs(tx.offset - 40_000_000) < 20_000_000, `slewing ~40 ms (${tx.offset} ns)`);
  t.same(timers.pending.map((p) => p.ms), [128_000], "a stable clock polls less often");
  sync.stop();
});

t.test("until the first correction each server is asked four times and its least-delayed answer believed", async (t) => {
  const sys = createFakeSys();
  const answers = [2_000, 5, 300, 40].map((delayMs, i) => ({ server: "s", address: "192.0.2.1", offsetMs: 60_000 + i, delayMs, stratum: 2, rootDistanceMs: delayMs / 2 }));
  const asked: number[] = [];
  const { sync, timers } = setup(sys, () => Date.now(), 0, {
    query: async () => {
      asked.push(asked.length);
      return { value: answers[(asked.length - 1) % 4]! };
    },
  });
  sync.apply(["s"]);
  timers.fire();
  await until(() => sync.status().state === "synchronized");
  t.equal(asked.length, 4);
  t.equal(sync.status().offsetMs, 60_001, "the 5 ms answer");
  t.equal(sync.status().correction, "step");
  timers.fire();
  await until(() => asked.length === 5 && timers.pending.length === 1);
  t.equal(asked.length, 5, "once corrected, one question a round");
  sync.stop();
});

t.test("a burst stops at the first failure and keeps what it had", async (t) => {
  const sys = createFakeSys();
  let n = 0;
  const { sync, timers } = setup(sys, () => Date.now(), 0, {
    query: async () => (++n === 1 ? { value: { server: "s", address: "", offsetMs: 10, delayMs: 1, stratum: 2, rootDistanceMs: 1 } } : { error: "no answer" }),
  });
  sync.apply(["s"]);
  timers.fire();
  await until(() => sync.status().state === "synchronized");
  t.equal(n, 2, "asked again once, then stopped");
  t.equal(sync.status().offsetMs, 10);
  sync.stop();
});

t.test("after the first correction, only offsets beyond 5 s are stepped", async (t) => {
  const server = await startResponder({ now: () => Date.now() });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { clock, now } = fakeClock(sys, 2_000);
  const { sync, timers } = setup(sys, now, server.port);
  sync.apply(["127.0.0.1"]);
  timers.fire();
  await until(() => sys.argsOf("clockSettime").length === 1);
  clock.skewMs = 2_000; // 2 s fast again: beyond the PLL, but below 5 s
  timers.fire();
  await until(() => sys.argsOf("adjtimex").length === 2);
  t.equal(sys.argsOf("clockSettime").length, 1, "slewed, not stepped");
  t.equal((sys.argsOf("adjtimex")[1]![0] as { offset: number }).offset, -500_000_000, "the PLL gets its most, 0.5 s");
  clock.skewMs = -6_000;
  timers.fire();
  await until(() => sys.argsOf("clockSettime").length === 2);
  t.pass("6 s is stepped");
  sync.stop();
});

t.test("servers that do not answer leave it unsynchronized, retrying after 2 s then 4 s", async (t) => {
  const server = await startResponder({ now: () => Date.now(), mangle: () => null });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { sync, timers, logs } = setup(sys, () => Date.now(), server.port);
  sync.apply(["127.0.0.1"]);
  timers.fire();
  await until(() => timers.pending.length === 1);
  t.equal(timers.pending[0]?.ms, 2_000);
  t.equal(sync.status().state, "unsynchronized");
  t.match(sync.status().lastError, /^no answer from 127\.0\.0\.1 \(127\.0\.0\.1:\d+\) within 0\.5 s$/);
  t.match(logs.at(-1), /asking again in 2 s$/);
  timers.fire();
  await until(() => timers.pending.length === 1);
  t.equal(timers.pending[0]?.ms, 4_000);
  t.equal(sys.calls.filter((c) => c.name !== "clockGettime").length, 0, "the clock untouched");
  sync.stop();
});

t.test("the best of several servers is believed", async (t) => {
  const good = await startResponder({ now: () => Date.now() + 300 });
  const slow = await startResponder({ now: () => Date.now() + 900, holdMs: 0, mangle: (b) => {
      b.writeUInt32BE(0x00030000, 8); // root dispersion 3 s: too far from a good clock
      return b;
    },
  });
  t.teardown(async () => Promise.all([good.close(), slow.close()]));
  const sys = createFakeSys();
  const { now } = fakeClock(sys, 0);
  const ports = new Map([["good", good.port], ["slow", slow.port]]);
  const { sync, timers } = setup(sys, now, 0, { query: (s) => querySntp(s, { now, timeoutMs: 500, port: ports.get(s) ?? 0, resolve: async () => "127.0.0.1" }) });
  sync.apply(["slow", "good"]);
  timers.fire();
  await until(() => sync.status().state === "synchronized");
  t.equal(sync.status().server, "good", "the smaller root distance wins over the order listed");
  sync.stop();
});

t.test("new servers start afresh at once; the same list again changes nothing; none disables", async (t) => {
  const sys = createFakeSys();
  const asked: string[] = [];
  const { sync, timers, logs } = setup(sys, () => Date.now(), 0, { query: async (s) => {
      asked.push(s);
      return { error: "unreachable" };
    },
  });
  sync.apply(["a.example"]);
  sync.apply(["a.example"]);
  t.equal(timers.pending.length, 1, "one round scheduled");
  sync.apply(["b.example", "c.example"]);
  t.same(timers.pending.map((p) => p.ms), [0], "the old round cancelled, a new one at once");
  t.same(sync.status().servers, ["b.example", "c.example"]);
  timers.fire();
  await until(() => asked.length === 2);
  t.same(asked, ["b.example", "c.example"]);
  await until(() => timers.pending.length === 1);
  sync.apply([]);
  t.equal(timers.pending.length, 0, "no more rounds");
  t.equal(sync.status().state, "disabled");
  t.match(logs.join("\n"), /time: synchronizing with b\.example, c\.example[\s\S]*time sync disabled/);
});

t.test("observing only (the sandbox), it measures and reports but never touches the clock", async (t) => {
  const server = await startResponder({ now: () => Date.now() + 5_000 });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { now } = fakeClock(sys, 0);
  const { sync, timers, steps } = setup(sys, now, server.port, { adjust: false });
  sync.apply(["127.0.0.1"]);
  timers.fire();
  await until(() => sync.status().state === "synchronized");
  t.equal(sync.status().correction, "none");
  t.ok(Math.abs((sync.status().offsetMs ?? 0) - 5_000) < 50);
  t.same([sys.argsOf("clockSettime").length, sys.argsOf("adjtimex").length, steps.length], [0, 0, 0]);
  sync.stop();
});

t.test("a step the kernel refuses is the round's error, and the round is retried", async (t) => {
  const server = await startResponder({ now: () => Date.now() });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { now } = fakeClock(sys, -60_000);
  sys.failOn("clockSettime");
  const { sync, timers } = setup(sys, now, server.port);
  sync.apply(["127.0.0.1"]);
  timers.fire();
  await until(() => timers.pending.length === 1);
  t.equal(sync.status().state, "unsynchronized");
  t.match(sync.status().lastError, /^stepping the clock by \+(59|60)\.\d{3} s: clockSettime\(0, \d+\): EPERM/);
  t.equal(timers.pending[0]?.ms, 2_000);
  sync.stop();
});

t.test("without a good round for 2048 s the clock counts as unsynchronized again", async (t) => {
  const server = await startResponder({ now: () => Date.now() });
  t.teardown(() => server.close());
  const sys = createFakeSys();
  const { now } = fakeClock(sys, 0);
  let mono = 0;
  const { sync, timers } = setup(sys, now, server.port, { monotonicMs: () => mono });
  sync.apply(["127.0.0.1"]);
  timers.fire();
  await until(() => sync.status().state === "synchronized");
  mono += 2_047_000;
  t.equal(sync.status().state, "synchronized");
  mono += 1_000;
  t.equal(sync.status().state, "unsynchronized");
  t.equal(sync.status().server, "127.0.0.1", "the last sample is still shown");
  sync.stop();
});
