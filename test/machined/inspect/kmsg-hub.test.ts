import t from "tap";
import { createKernelLog, type DmesgQuery } from "../../../src/machined/inspect/dmesg.js";
import type { KmsgDevice } from "../../../src/machined/inspect/kmsg-hub.js";
import type { KernelRecord } from "../../../src/machined/inspect/kmsg.js";

/** A fake kernel ring: `log` appends, every open device reads from its own position. */
function fakeKmsg() {
  const ring: KernelRecord[] = [];
  const state = { opens: 0, open: 0, failReads: false };
  const open = (): KmsgDevice => {
    let pos = 0;
    state.opens++;
    state.open++;
    return {
      drain() {
        if (state.failReads) throw new Error("reading the kernel log: EIO");
        const out = ring.slice(pos);
        pos = ring.length;
        return out;
      },
      close: () => void state.open--,
    };
  };
  const log = (...messages: string[]) => {
    for (const message of messages) ring.push({ facility: "kern", level: "info", seq: ring.length, usec: ring.length, message });
  };
  return { open, log, state };
}

/** Reads a follow into `got` until it ends; resolves with its error, if any. */
async function collect(it: AsyncIterable<KernelRecord[]>, got: string[]): Promise<unknown> {
  try {
    for await (const batch of it) got.push(...batch.map((r) => r.message));
  } catch (err) {
    return err;
  }
  return undefined;
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

t.test("a thousand followers share one open device, closed when the last leaves", async (t) => {
  const k = fakeKmsg();
  k.log("boot");
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open });
  const ac = new AbortController();
  const q: DmesgQuery = { follow: true, tail: 0, signal: ac.signal };
  const got = Array.from({ length: 1000 }, () => [] as string[]);
  const done = got.map((g) => collect(log.read(q), g));
  await tick();
  t.same(log.stats(), { followers: 1000, open: true });
  t.equal(k.state.open, 1, "one device for all of them");
  k.log("new one", "new two");
  await tick();
  t.ok(got.every((g) => g.join() === "new one,new two"), "every follower got the new records, and only them");
  ac.abort();
  t.same(await Promise.all(done), got.map(() => undefined), "all ended cleanly");
  t.same(log.stats(), { followers: 0, open: false });
  t.equal(k.state.open, 0, "the device is closed");
  const again = new AbortController();
  const later: string[] = [];
  const follow = collect(log.read({ follow: true, tail: 0, signal: again.signal }), later);
  await tick();
  t.equal(k.state.open, 1, "a new follower opens it again");
  again.abort();
  await follow;
  t.equal(k.state.open, 0);
});

t.test("a follower with a tail gets the buffer, then each new record once", async (t) => {
  const k = fakeKmsg();
  k.log("a", "b", "c");
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open });
  const ac = new AbortController();
  const first: string[] = [];
  const f1 = collect(log.read({ follow: true, tail: -1, signal: ac.signal }), first);
  await tick();
  k.log("d");
  const second: string[] = [];
  const f2 = collect(log.read({ follow: true, tail: 2, signal: ac.signal }), second);
  await tick();
  k.log("e");
  await tick();
  ac.abort();
  await Promise.all([f1, f2]);
  t.same(first, ["a", "b", "c", "d", "e"]);
  t.same(second, ["c", "d", "e"]);
  t.equal(k.state.open, 0);
});

t.test("a follower that falls behind is ended with an error naming the bound; the others go on", async (t) => {
  const k = fakeKmsg();
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open, maxQueuedBytes: 150 });
  const ac = new AbortController();
  const fast: string[] = [];
  const fastDone = collect(log.read({ follow: true, tail: 0, signal: ac.signal }), fast);
  const slow = log.read({ follow: true, tail: 0, signal: ac.signal });
  const slowNext = slow.next(); // joins, then never reads again
  await tick();
  k.log("x".repeat(60));
  await tick();
  t.equal((await slowNext).value?.length, 1, "the slow one's first read");
  k.log("y".repeat(60), "z".repeat(60));
  await tick();
  t.equal(log.stats().followers, 2, "120 bytes behind is within the bound");
  k.log("w".repeat(60));
  await tick();
  await t.rejects(slow.next(), { kind: "exhausted", message: /fell more than 150 bytes behind the kernel and was ended/ });
  t.equal(log.stats().followers, 1, "only the fast one is left");
  k.log("after");
  await tick();
  ac.abort();
  t.equal(await fastDone, undefined);
  t.same(fast.map((m) => m[0]), ["x", "y", "z", "w", "a"]);
  t.equal(k.state.open, 0);
});

t.test("a read error ends every follower with it and closes the device", async (t) => {
  const k = fakeKmsg();
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open });
  const done = [0, 1, 2].map(() => collect(log.read({ follow: true, tail: 0 }), []));
  await tick();
  k.state.failReads = true;
  const errs = await Promise.all(done);
  t.ok(errs.every((e) => e instanceof Error && /EIO/.test(e.message)), "each got the error");
  t.equal(k.state.open, 0);
});

t.test("a read that does not follow opens the device once and closes it", async (t) => {
  const k = fakeKmsg();
  k.log("a", "b", "c");
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open });
  const got: string[] = [];
  await collect(log.read({ follow: false, tail: 2 }), got);
  t.same(got, ["b", "c"]);
  t.same(k.state, { opens: 1, open: 0, failReads: false });
});

t.test("followers with a tail that start together share one read of the buffer, and none misses a record", async (t) => {
  const k = fakeKmsg();
  k.log("one", "two", "three");
  const log = createKernelLog({ path: "fake", pollMs: 5, open: k.open });
  const ac = new AbortController();
  const q: DmesgQuery = { follow: true, tail: -1, signal: ac.signal };
  const got = Array.from({ length: 200 }, () => [] as string[]);
  const done = got.map((g) => collect(log.read(q), g));
  await tick();
  // The hub's own device, and one read of the buffer for all 200.
  t.equal(k.state.opens, 2, "the buffer was read once for 200 followers");
  k.log("four");
  await tick();
  t.ok(got.every((g) => g.join() === "one,two,three,four"), "each got the buffer, then the new record, once");
  // The hub has read past the shared copy now: a new follower reads the buffer again.
  const late: string[] = [];
  const lateDone = collect(log.read(q), late);
  await tick();
  t.equal(k.state.opens, 3, "a follower after a new record reads the buffer anew");
  t.equal(late.join(), "one,two,three,four", "and misses nothing");
  ac.abort();
  await Promise.all([...done, lateDone]);
});
