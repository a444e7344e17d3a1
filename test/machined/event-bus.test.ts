import t from "tap";
import { createEventBus, EventsMissedError } from "../../src/machined/event-bus.js";
import type { EventBus, EventQuery, MachineEvent } from "../../src/machined/events.js";

/** Publishes `n` machine events whose messages are "m1", "m2", … */
function publishN(bus: EventBus, n: number, from = 1): void {
  for (let i = from; i < from + n; i++) bus.publish({ t: "machine", stage: "running", message: `m${i}` });
}

/** Collects a non-following watch. */
async function collect(bus: EventBus, q: Partial<EventQuery>): Promise<MachineEvent[]> {
  const out: MachineEvent[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false, ...q })) out.push(e);
  return out;
}

const ids = (evs: MachineEvent[]) => evs.map((e) => e.id);

t.test("gives events monotonically increasing ids", async (t) => {
  const bus = createEventBus();
  publishN(bus, 3);
  t.same(ids(await collect(bus, {})), [1, 2, 3]);
});

t.test("keeps only the last `capacity` events", async (t) => {
  const bus = createEventBus({ capacity: 5 });
  publishN(bus, 12);
  t.same(ids(await collect(bus, {})), [8, 9, 10, 11, 12]);
});

t.test("replays the last N events for tail N, none for 0", async (t) => {
  const bus = createEventBus();
  publishN(bus, 10);
  t.same(ids(await collect(bus, { tail: 3 })), [8, 9, 10]);
  t.same(ids(await collect(bus, { tail: 0 })), []);
  t.same(ids(await collect(bus, { tail: 50 })).length, 10);
});

t.test("resumes after sinceId, which takes precedence over tail", async (t) => {
  const bus = createEventBus();
  publishN(bus, 10);
  t.same(ids(await collect(bus, { sinceId: 7, tail: 1 })), [8, 9, 10]);
});

t.test("starts at the oldest kept event when sinceId is older than the ring", async (t) => {
  const bus = createEventBus({ capacity: 4 });
  publishN(bus, 10);
  t.same(ids(await collect(bus, { sinceId: 2 })), [7, 8, 9, 10]);
});

t.test("treats a sinceId from the future as now", async (t) => {
  const bus = createEventBus();
  publishN(bus, 3);
  t.same(ids(await collect(bus, { sinceId: 99 })), []);
});

t.test("follows new events until the signal aborts", async (t) => {
  const bus = createEventBus();
  publishN(bus, 2);
  const ac = new AbortController();
  const seen: number[] = [];
  const done = (async () => {
    for await (const e of bus.watch({ tail: 1, sinceId: 0, follow: true, signal: ac.signal })) {
      seen.push(e.id);
      if (e.id === 4) ac.abort();
    }
  })();
  publishN(bus, 2, 3);
  await done;
  t.same(seen, [2, 3, 4]);
});

t.test("misses nothing published between watch() and the first read", async (t) => {
  const bus = createEventBus();
  const ac = new AbortController();
  const it = bus.watch({ tail: 0, sinceId: 0, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
  publishN(bus, 1);
  t.equal((await it.next()).value?.id, 1);
  ac.abort();
  t.equal((await it.next()).done, true);
});

t.test("never blocks publishers; a follower lapped by the ring is told how many it missed", async (t) => {
  const bus = createEventBus({ capacity: 10 });
  const it = bus.watch({ tail: 0, sinceId: 0, follow: true })[Symbol.asyncIterator]();
  publishN(bus, 3);
  t.equal((await it.next()).value?.id, 1);
  publishN(bus, 100, 4);
  const err = await it.next().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, EventsMissedError);
  t.equal((err as EventsMissedError).missed, 92, "ids 2…93 were overwritten");
  t.equal((err as EventsMissedError).lastId, 1, "resume after the last delivered id");
  t.same(ids(await collect(bus, { sinceId: 1 })), ids(await collect(bus, {})), "resuming starts at the oldest kept");
});

t.test("rejects a capacity that is not a positive integer", async (t) => {
  t.throws(() => createEventBus({ capacity: 0 }), /`capacity` option to be a positive integer, got `0`/);
});
