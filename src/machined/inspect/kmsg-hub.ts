// One reader of the kernel log for every Dmesg follower: the device is opened
// when the first follower comes and closed when the last leaves; each poll's
// new records go to every follower's own queue. A queue is bounded: a
// follower that falls too far behind is ended with an error, so a slow client
// never grows machined's memory and a thousand followers hold one fd.
import { exhausted } from "../errors.js";
import type { KernelRecord } from "./kmsg.js";

/** An open kernel log: the records readable now (each once), and close. */
export interface KmsgDevice {
  drain(): KernelRecord[];
  close(): void;
}

export interface KmsgHubOptions {
  /** Opens the device (the real one: openKmsg in dmesg.ts; tests pass a fake). */
  open: () => KmsgDevice;
  pollMs: number;
  /** The most bytes of message text one follower may have queued before it is ended. */
  maxQueuedBytes: number;
}

/** One follower's view: records after `since`, until it closes. */
export interface KmsgFollower {
  /** Only records with a higher seq are queued from now on (a follower that read the buffer first skips what it saw). */
  since(seq: number): void;
  /** The queued records, waiting for some; undefined once `signal` aborts. Throws when the follower was ended. */
  next(signal?: AbortSignal): Promise<KernelRecord[] | undefined>;
  /** Leaves the hub; the last to leave closes the device. */
  close(): void;
}

export interface KmsgHub {
  /** Joins: opens the device if this is the first follower (synchronously, so a failure throws here). */
  follow(): KmsgFollower;
  /** Followers now, and whether the device is open (tests and the fd figure). */
  stats(): { followers: number; open: boolean };
  /** Reads what is new now instead of at the next poll; returns the highest seq the hub has read (-1 before any). */
  catchUp(): number;
}

interface Queue {
  records: KernelRecord[];
  bytes: number;
  after: number;
  failed?: Error;
  wake?: () => void;
}

/** A hub over `o.open`; nothing is opened until the first follower. */
export function createKmsgHub(o: KmsgHubOptions): KmsgHub {
  const queues = new Set<Queue>();
  let device: { dev: KmsgDevice; timer: NodeJS.Timeout } | undefined;
  let seen = -1;
  const note = (records: KernelRecord[]) => {
    seen = Math.max(seen, records.at(-1)?.seq ?? -1);
  };

  // Opens the device, skips what is buffered (a follower reads that itself) and starts polling.
  const start = () => {
    const dev = o.open();
    try {
      note(dev.drain());
    } catch (err) {
      dev.close();
      throw err;
    }
    device = { dev, timer: setInterval(poll, o.pollMs) };
  };
  const stop = () => {
    if (!device) return;
    clearInterval(device.timer);
    device.dev.close();
    device = undefined;
  };
  // Ends a follower with `err`: its queue goes, it is woken to see the error.
  const end = (q: Queue, err: Error) => {
    q.records = [];
    q.bytes = 0;
    q.failed = err;
    leave(q);
    q.wake?.();
  };
  const leave = (q: Queue) => {
    if (queues.delete(q) && queues.size === 0) stop();
  };
  // Reads what is new and hands it to every follower; a read error ends them all.
  function poll() {
    let records: KernelRecord[];
    try {
      records = device?.dev.drain() ?? [];
    } catch (err) {
      for (const q of [...queues]) end(q, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    note(records);
    if (records.length > 0) for (const q of [...queues]) offer(q, records);
  }
  // Queues a follower's share of `records`, ending it when its queue passes the bound.
  const offer = (q: Queue, records: KernelRecord[]) => {
    for (const r of records) {
      if (r.seq <= q.after) continue;
      q.records.push(r);
      q.bytes += r.message.length;
    }
    if (q.bytes > o.maxQueuedBytes) end(q, tooSlow(o.maxQueuedBytes));
    else if (q.records.length > 0) q.wake?.();
  };

  return {
    follow() {
      if (!device) start();
      const q: Queue = { records: [], bytes: 0, after: -1 };
      queues.add(q);
      return follower(q, () => leave(q));
    },
    stats: () => ({ followers: queues.size, open: device !== undefined }),
    catchUp: () => {
      if (device) poll();
      return seen;
    },
  };
}

/** The error a follower gets when it falls too far behind. */
function tooSlow(maxBytes: number): Error {
  return exhausted(`this kernel log follow fell more than ${maxBytes} bytes behind the kernel and was ended (the client reads too slowly); follow again to resume`);
}

/** A follower over its queue. */
function follower(q: Queue, leave: () => void): KmsgFollower {
  return {
    since(seq) {
      q.after = seq;
      q.records = q.records.filter((r) => r.seq > seq);
      q.bytes = q.records.reduce((n, r) => n + r.message.length, 0);
    },
    async next(signal) {
      while (q.records.length === 0 && !q.failed && !signal?.aborted) await woken(q, signal);
      if (q.records.length > 0) {
        const out = q.records;
        q.records = [];
        q.bytes = 0;
        return out;
      }
      if (q.failed) throw q.failed;
      return undefined;
    },
    close: leave,
  };
}

/** Resolves when the hub wakes the queue or `signal` aborts. */
function woken(q: Queue, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      q.wake = undefined;
      signal?.removeEventListener("abort", done);
      resolve();
    };
    q.wake = done;
    signal?.addEventListener("abort", done, { once: true });
  });
}
