// Reads the kernel log from /dev/kmsg: the buffered tail, then (follow) new
// records. A read opens the device once and drains it; every follower shares
// one open device through the hub (kmsg-hub.ts). The device is opened
// non-blocking and drained with read(2) until EAGAIN, so no libuv thread ever
// blocks on it; following polls.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { refused } from "../errors.js";
import { createKmsgHub, type KmsgDevice, type KmsgHub } from "./kmsg-hub.js";
import { type KernelRecord, parseKmsgRecord } from "./kmsg.js";

export interface DmesgQuery {
  follow: boolean;
  /** Last N buffered records first; negative: all of them. */
  tail: number;
  signal?: AbortSignal;
}

/** Where the kernel log is and how often a followed log is polled. */
export interface KmsgSource {
  path: string;
  pollMs: number;
  /** The most bytes of messages one follower may fall behind before it is ended; default maxFollowerQueueBytes. */
  maxQueuedBytes?: number;
  /** Opens the device; default openKmsg (tests pass a fake). */
  open?: (path: string) => KmsgDevice;
}

/** The kernel log of one machine: reads, and follows that share one reader. */
export interface KernelLog {
  read(q: DmesgQuery): AsyncGenerator<KernelRecord[]>;
  /** Followers now, and whether the shared device is open. */
  stats(): { followers: number; open: boolean };
}

/** How far (bytes of messages) a follower may fall behind: 1 MiB, several times a typical ring. */
export const maxFollowerQueueBytes = 1024 * 1024;

// A kmsg record is at most 8 KiB with its dictionary (CONSOLE_EXT_LOG_MAX).
const RECORD_MAX = 16 * 1024;
const BATCH = 512;

/** The kernel log at `src`; nothing is opened until a read. */
export function createKernelLog(src: KmsgSource): KernelLog {
  const open = () => (src.open ?? openKmsg)(src.path);
  const hub = createKmsgHub({ open, pollMs: src.pollMs, maxQueuedBytes: src.maxQueuedBytes ?? maxFollowerQueueBytes });
  const backlog = sharedBacklog(hub, open);
  return { read: (q) => (q.follow ? follow(hub, backlog, q) : readBuffer(open, q.tail)), stats: hub.stats };
}

/**
 * The buffer for followers with a tail, read once while it has not changed
 * (256 follows of a 1,400-record log, each parsing its own copy, grew
 * machined by 190 MiB). The hub first reads what is new; the copy is shared
 * only while nothing has come since it was read, so it is exactly the buffer
 * now, and what comes later reaches the new follower through the hub. One
 * copy (at most the ring's size) is kept between follows.
 */
function sharedBacklog(hub: KmsgHub, open: () => KmsgDevice): () => KernelRecord[] {
  let last: { records: KernelRecord[]; seq: number } | undefined;
  return () => {
    if (last && hub.catchUp() <= last.seq) return last.records;
    const records = readOnce(open);
    last = { records, seq: records.at(-1)?.seq ?? -1 };
    return records;
  };
}

/** The buffered records, the last `tail` of them (negative: all), in batches. */
async function* readBuffer(open: () => KmsgDevice, tail: number): AsyncGenerator<KernelRecord[]> {
  yield* batches(lastOf(readOnce(open), tail));
}

/** The buffered tail, then every new record until the signal aborts. */
async function* follow(hub: KmsgHub, backlog: () => KernelRecord[], q: DmesgQuery): AsyncGenerator<KernelRecord[]> {
  // Join first, then read the buffer: what arrives in between comes through the hub, once.
  const f = hub.follow();
  try {
    if (q.tail !== 0) {
      const buffered = backlog();
      f.since(buffered.at(-1)?.seq ?? -1);
      yield* batches(lastOf(buffered, q.tail));
    }
    for (;;) {
      const records = await f.next(q.signal);
      if (!records) return;
      yield* batches(records);
    }
  } finally {
    f.close();
  }
}

/** Every record in the buffer now, through a device opened for this read alone. */
function readOnce(open: () => KmsgDevice): KernelRecord[] {
  const dev = open();
  try {
    return dev.drain();
  } finally {
    dev.close();
  }
}

/** The last `tail` records; negative: all. */
function lastOf(records: KernelRecord[], tail: number): KernelRecord[] {
  return tail < 0 ? records : records.slice(Math.max(0, records.length - tail));
}

/** /dev/kmsg (or `path`) opened read-only and non-blocking. */
export function openKmsg(path: string): KmsgDevice {
  const fd = openFd(path);
  return { drain: () => drain(fd), close: () => closeSync(fd) };
}

/** Opens the kernel log read-only and non-blocking; refused when it cannot be read here. */
function openFd(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw refused(`the kernel log is not available on this machine: ${path} does not exist`, err);
    if (code === "EPERM" || code === "EACCES") throw refused(`reading the kernel log ${path} is not permitted (kernel.dmesg_restrict?)`, err);
    throw new Error(`opening ${path}`, { cause: err });
  }
}

/** Every record readable now; records overwritten while we read (EPIPE) are skipped. */
function drain(fd: number): KernelRecord[] {
  const buf = Buffer.alloc(RECORD_MAX);
  const out: KernelRecord[] = [];
  for (;;) {
    const n = readRecord(fd, buf);
    if (n === "end") return out;
    if (n === "lost") continue;
    const parsed = parseKmsgRecord(buf.toString("utf8", 0, n));
    if ("value" in parsed) out.push(parsed.value);
  }
}

/** One read(2): the record's length, "lost" when the kernel overwrote it, "end" when none is left. */
function readRecord(fd: number, buf: Buffer): number | "lost" | "end" {
  try {
    const n = readSync(fd, buf, 0, buf.length, null);
    return n === 0 ? "end" : n;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EAGAIN") return "end";
    if (code === "EPIPE") return "lost";
    throw new Error("reading the kernel log", { cause: err });
  }
}

/** Records split into batches of at most BATCH. */
function* batches(records: KernelRecord[]): Generator<KernelRecord[]> {
  for (let i = 0; i < records.length; i += BATCH) yield records.slice(i, i + BATCH);
}
