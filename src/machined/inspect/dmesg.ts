// Reads the kernel log from /dev/kmsg: the buffered tail, then (follow) new
// records. The device is opened non-blocking and drained with read(2) until
// EAGAIN, so no libuv thread ever blocks on it; following polls.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { refused } from "../errors.js";
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
}

// A kmsg record is at most 8 KiB with its dictionary (CONSOLE_EXT_LOG_MAX).
const RECORD_MAX = 16 * 1024;
const BATCH = 512;

/** Records per the query, in batches, until the buffer is drained or (follow) the signal aborts. */
export async function* readKernelLog(src: KmsgSource, q: DmesgQuery): AsyncGenerator<KernelRecord[]> {
  const fd = openKmsg(src.path);
  try {
    const first = drain(fd);
    yield* batches(q.tail < 0 ? first : first.slice(Math.max(0, first.length - q.tail)));
    while (q.follow && !q.signal?.aborted) {
      await sleep(src.pollMs, undefined, { signal: q.signal }).catch(() => undefined);
      yield* batches(drain(fd));
    }
  } finally {
    closeSync(fd);
  }
}

/** Opens the kernel log read-only and non-blocking; refused when it cannot be read here. */
function openKmsg(path: string): number {
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
