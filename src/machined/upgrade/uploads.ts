// Upgrade bundles on their way in: uploaded over the API in chunks, or
// fetched by the machine from a URL, into a file on EPHEMERAL (/var), which is
// the only place on a kiln machine with room for one. One upload at a time: a
// new one removes the others. Chunks must arrive in order (offset = bytes so
// far), so a client that lost its connection resumes where the machine says.
import { randomUUID } from "node:crypto";
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { exhausted, invalid, notFound, refused } from "../errors.js";
import type { UpgradeUploadChunk } from "../machine.js";

/** The largest chunk UpgradeUpload takes. */
export const MAX_CHUNK = 1 << 20;
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

export function createUploads(dir: string): Uploads {
  const file = (id: string) => join(dir, `${id}.tar`);
  const clear = () => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  };
  const start = (total: number) => {
    clear();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    // The bundle, then its files unpacked next to it.
    if (total * 2 + SPARE_BYTES > free) {
      throw exhausted(`a bundle of ${mib(total)} needs ${mib(total * 2 + SPARE_BYTES)} free on EPHEMERAL (/var), which has ${mib(free)}: free space there or use a larger disk`);
    }
    const id = randomUUID();
    closeSync(openSync(file(id), "w", 0o600));
    return id;
  };
  const size = (id: string) => {
    if (!ID.test(id) || !existsSync(file(id))) throw notFound(`no upload "${id}" on this machine (it may have been replaced by a newer one, or the machine rebooted): upload the bundle again`);
    return statSync(file(id)).size;
  };
  return {
    append: (c) => {
      if (c.data.length > MAX_CHUNK) throw invalid(`a chunk holds at most ${MAX_CHUNK} bytes, got ${c.data.length}`);
      const id = c.uploadId || start(c.totalSize);
      const have = size(id);
      if (c.offset !== have) throw refused(`upload ${id}: expected offset ${have} (the bytes received so far), got ${c.offset}; resume from ${have}`);
      const fd = openSync(file(id), "r+");
      try {
        writeSync(fd, c.data, 0, c.data.length, have);
      } finally {
        closeSync(fd);
      }
      return { uploadId: id, received: have + c.data.length };
    },
    path: (id) => {
      size(id);
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
      const total = Number(res.headers.get("content-length") ?? 0);
      const id = start(total);
      let done = 0;
      const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
      body.on("data", (b: Buffer) => {
        done += b.length;
        onProgress(done, total);
      });
      await pipeline(body, createWriteStream(file(id)), { signal });
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

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

