// Upgrade bundles on their way in: uploaded over the API in chunks, or
// fetched by the machine from a URL, into a file on EPHEMERAL (/var), which is
// the only place on a kiln machine with room for one. One upload at a time: a
// new one removes the others. A client keeps several chunks in flight, so they
// may arrive out of order: a chunk may start anywhere in the window of
// UPLOAD_WINDOW bytes after the bytes received so far (the contiguous prefix)
// without overlapping one already in; `received` is that prefix, so a client
// that lost its connection resumes where the machine says.
// Every upload has a size known before its first byte is written: the size
// an upload declares (over 0, at most MAX_BUNDLE), a URL's Content-Length,
// or without one MAX_BUNDLE (and the room on /var); nothing is written past it.
import { randomUUID } from "node:crypto";
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { streamClosed } from "../../machinery/stream-closed.js";
import { exhausted, invalid, notFound, refused } from "../errors.js";
import type { UpgradeUploadChunk } from "../machine.js";

/** The largest chunk UpgradeUpload takes. */
export const MAX_CHUNK = 1 << 20;
/** How far past the bytes received so far a chunk may start (chunks in flight arrive in any order). */
export const UPLOAD_WINDOW = 8 * MAX_CHUNK;
/** How many chunks may wait past a gap (each is checked for overlap: tiny chunks must not make that costly). */
export const MAX_AHEAD = 16;
/** The largest bundle a machine takes (an upload's total_size, a URL's body): 1 GiB. */
export const MAX_BUNDLE = 1 << 30;
/** Room kept free on EPHEMERAL besides the bundle and its unpacked copy. */
const SPARE_BYTES = 64 << 20;
const ID = /^[0-9a-f-]{36}$/;

export interface Uploads {
  /** Appends a chunk; a chunk with uploadId "" starts a new upload. */
  append(chunk: UpgradeUploadChunk): { uploadId: string; received: number };
  /** The file of a completed upload; not-found for an unknown id. */
  path(uploadId: string): string;
  /** Fetches `url` into a new upload; progress as bytes arrive. */
  fetch(url: string, onProgress: (done: number, total: number) => void, signal: AbortSignal): Promise<string>;
  /** A scratch directory for unpacking an upload (emptied). */
  scratch(uploadId: string): string;
  /** Removes every upload and scratch directory. */
  clear(): void;
}

/** `maxBundle` for tests at the limits; MAX_BUNDLE otherwise. */
export function createUploads(dir: string, limits: { maxBundle: number } = { maxBundle: MAX_BUNDLE }): Uploads {
  const file = (id: string) => join(dir, `${id}.tar`);
  // Each upload of this boot (machined is PID 1: it lives as long as the boot): its declared size, the
  // bytes received from offset 0 without a gap, and the chunks written past them (offset -> length).
  const uploads = new Map<string, { total: number; have: number; ahead: Map<number, number> }>();
  const clear = () => {
    uploads.clear();
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  };
  // A new upload of `total` bytes, or (a URL without Content-Length) of at most what fits.
  const start = (total: number | undefined) => {
    clear();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    const limit = total ?? Math.min(limits.maxBundle, Math.floor((free - SPARE_BYTES) / 2));
    // The bundle, then its files unpacked next to it.
    if (limit <= 0 || limit * 2 + SPARE_BYTES > free) {
      throw exhausted(`a bundle of ${mib(limit)} needs ${mib(limit * 2 + SPARE_BYTES)} free on EPHEMERAL (/var), which has ${mib(free)}: free space there or use a larger disk`);
    }
    const id = randomUUID();
    closeSync(openSync(file(id), "w", 0o600));
    uploads.set(id, { total: limit, have: 0, ahead: new Map() });
    return { id, limit };
  };
  const upload = (id: string) => {
    const u = uploads.get(id);
    if (!ID.test(id) || !existsSync(file(id)) || !u) throw notFound(`no upload "${id}" on this machine (it may have been replaced by a newer one, or the machine rebooted): upload the bundle again`);
    return u;
  };
  const declared = (total: number) => {
    if (!Number.isSafeInteger(total) || total <= 0 || total > limits.maxBundle) {
      throw invalid(`expected total_size to be the bundle's size, over 0 and at most ${mib(limits.maxBundle)} (${limits.maxBundle} bytes), got ${total}`);
    }
    return total;
  };
  return {
    append: (c) => {
      if (c.data.length > MAX_CHUNK) throw invalid(`a chunk holds at most ${MAX_CHUNK} bytes, got ${c.data.length}`);
      const id = c.uploadId || start(declared(c.totalSize)).id;
      const u = upload(id);
      const at = c.offset;
      if (at < u.have || at >= u.have + UPLOAD_WINDOW) {
        throw refused(`upload ${id}: expected a chunk at an offset from ${u.have} (the bytes received so far) to ${u.have + UPLOAD_WINDOW - 1}, got ${at}; resume from ${u.have}`);
      }
      if (at + c.data.length > u.total) {
        throw invalid(`upload ${id}: a chunk of ${c.data.length} bytes at offset ${at} ends past the declared total_size of ${u.total} bytes`);
      }
      if (at > u.have && u.ahead.size >= MAX_AHEAD) {
        throw refused(`upload ${id}: ${MAX_AHEAD} chunks wait already past the gap at offset ${u.have}; send the chunk at ${u.have} first`);
      }
      for (const [o, n] of u.ahead) {
        if (at < o + n && o < at + c.data.length) throw refused(`upload ${id}: the chunk at offset ${at} overlaps the ${n} bytes at offset ${o}, which are in already; resume from ${u.have}`);
      }
      const fd = openSync(file(id), "r+");
      try {
        writeSync(fd, c.data, 0, c.data.length, at);
      } finally {
        closeSync(fd);
      }
      if (c.data.length > 0) u.ahead.set(at, c.data.length);
      for (let n = u.ahead.get(u.have); n !== undefined; n = u.ahead.get(u.have)) {
        u.ahead.delete(u.have);
        u.have += n;
      }
      return { uploadId: id, received: u.have };
    },
    path: (id) => {
      const { have, total } = upload(id);
      if (have !== total) throw refused(`upload ${id} is incomplete: ${have} of ${total} bytes received; resume from ${have}`);
      return file(id);
    },
    fetch: async (url, onProgress, signal) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw invalid(`expected an http(s) URL of a kiln-upgrade.tar, got "${url}"`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw invalid(`expected an http(s) URL, got "${url}"`);
      let res: Response;
      try {
        res = await fetch(parsed, { signal });
      } catch (err) {
        throw refused(`fetching ${url}: ${(err as Error).cause ?? (err as Error).message}`, err);
      }
      if (!res.ok || !res.body) throw refused(`fetching ${url}: HTTP ${res.status} ${res.statusText}`);
      const length = res.headers.get("content-length");
      const { id, limit } = start(length === null ? undefined : contentLength(url, length, limits.maxBundle));
      const total = length === null ? 0 : limit;
      const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
      let done = 0;
      // Counts the bytes as they arrive and stops the download at the first byte past the limit.
      const capped = async function* (chunks: AsyncIterable<Buffer>) {
        for await (const b of chunks) {
          done += b.length;
          if (done > limit) {
            throw length === null
              ? exhausted(`fetching ${url}: the body (no Content-Length) passed ${limit} bytes, the most this machine takes (${mib(limits.maxBundle)} or what fits on /var)`)
              : invalid(`fetching ${url}: the body is longer than its Content-Length of ${limit} bytes`);
          }
          onProgress(done, total);
          yield b;
        }
      };
      const out = createWriteStream(file(id));
      try {
        await pipeline(body, capped, out, { signal });
      } catch (err) {
        await streamClosed(out);
        rmSync(file(id), { force: true });
        throw err;
      }
      if (length !== null && done !== limit) {
        rmSync(file(id), { force: true });
        throw refused(`fetching ${url}: the body ended after ${done} of its Content-Length of ${limit} bytes`);
      }
      uploads.set(id, { total: done, have: done, ahead: new Map() });
      return file(id);
    },
    scratch: (id) => {
      const d = join(dir, `${id}.d`);
      rmSync(d, { recursive: true, force: true });
      return d;
    },
    clear,
  };
}

/** A Content-Length as the upload's size: over 0 and at most the maximum. */
function contentLength(url: string, header: string, max: number): number {
  const n = /^\d+$/.test(header) ? Number(header) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > max) {
    throw invalid(`fetching ${url}: expected a Content-Length over 0 and at most ${mib(max)} (${max} bytes), got "${header}"`);
  }
  return n;
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

