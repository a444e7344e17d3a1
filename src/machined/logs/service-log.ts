// One service's log: what it writes goes, synchronously, to an in-memory
// ring (for `logs --tail`), to /var/log/<id>.log (rotated by size) and to
// every follower's bounded queue. Memory use is bounded whatever the rate.
import { join } from "node:path";
import type { LogSink } from "../service.js";
import { createByteRing } from "./byte-ring.js";
import { createFollowers } from "./followers.js";
import { createLogFile } from "./log-file.js";

export interface LogLimits {
  /** In-memory ring per service. Default 1 MiB. */
  ringBytes?: number;
  /** Rotate the file past this size, keeping one `.1`. Default 10 MiB. */
  fileMaxBytes?: number;
  /** Queue per follower before output is dropped. Default 256 KiB. */
  followerQueueBytes?: number;
}

export interface ReadQuery {
  /** Lines of buffered output first; negative: the whole ring. */
  tailLines: number;
  follow: boolean;
  signal?: AbortSignal;
}

export interface ServiceLog extends LogSink {
  /** The last `lines` lines kept in memory (negative: all). */
  tail(lines: number): Buffer;
  /** Output from now on until the signal aborts. */
  follow(signal: AbortSignal): AsyncIterable<Uint8Array>;
  /** The tail, then (when following) new output, with no gap or repeat between them. */
  read(query: ReadQuery): AsyncIterable<Uint8Array>;
  /** Closes the file; the ring stays readable. */
  close(): void;
}

/** Creates the log of service `id` under `dir`. */
export function createServiceLog(id: string, dir: string, limits: LogLimits = {}): ServiceLog {
  const ring = createByteRing(limits.ringBytes ?? 1024 * 1024);
  const file = createLogFile(join(dir, `${id}.log`), limits.fileMaxBytes ?? 10 * 1024 * 1024);
  const followers = createFollowers(limits.followerQueueBytes ?? 256 * 1024);
  let fileFailed = false;
  const log: ServiceLog = {
    write(chunk) {
      ring.append(chunk);
      file.write(chunk);
      followers.publish(chunk);
      if (!file.error || fileFailed) return;
      fileFailed = true;
      log.write(fileErrorNote(file.error));
    },
    tail: (lines) => ring.tail(lines),
    follow: (signal) => followers.follow(signal),
    read: (query) => read(log, query),
    close: () => file.close(),
  };
  return log;
}

/** The line a reader sees once the file could not be written. */
function fileErrorNote(err: Error): Uint8Array {
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return Buffer.from(`\n[kiln: ${err.message}${cause}; logging to memory only]\n`);
}

/** Subscribes first and takes the tail in the same tick, so nothing falls between. */
function read(log: ServiceLog, { tailLines, follow, signal }: ReadQuery): AsyncIterable<Uint8Array> {
  const ac = new AbortController();
  const live = follow ? log.follow(AbortSignal.any([ac.signal, ...(signal ? [signal] : [])])) : undefined;
  const head = log.tail(tailLines);
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (head.length > 0) yield head;
        if (live) yield* live;
      } finally {
        ac.abort();
      }
    },
  };
}
