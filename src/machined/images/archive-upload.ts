// Image archives sent over the API (ImageImport): the bytes spooled to a
// file on EPHEMERAL (/var), where containerd's content store also lives,
// then imported with import-archive.ts and the file removed, whether the
// import worked or not. Bounded: the archive's size is declared before its
// first byte (over 0, at most maxImageArchiveBytes, and the archive plus its
// copy in containerd must fit on /var with room to spare); a byte past it is
// refused; one import at a time (a second is refused with "exhausted" at
// once rather than queued, so a caller never waits on another's upload).
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { maxImageArchiveBytes } from "../../machinery/api-limits.js";
import { streamClosed } from "../../machinery/stream-closed.js";
import { cancelled, exhausted, invalid, unavailable } from "../errors.js";
import { type ImportedImage, importArchive } from "./import-archive.js";

/** Room kept free on /var besides the archive and its copy in containerd's content store. */
export const SPARE_BYTES = 64 << 20;

export interface ArchiveImportRequest {
  /** containerd namespace (already defaulted). */
  namespace: string;
  /** The archive's declared size. */
  totalSize: number;
  /** The archive's bytes, in order. */
  data: AsyncIterable<Uint8Array>;
  signal: AbortSignal;
}

export interface ArchiveImportResult {
  namespace: string;
  images: ImportedImage[];
  /** Bytes received. */
  received: number;
}

export interface ArchiveImports {
  /** Spools `req.data`, imports it, removes the spool file. */
  import(req: ArchiveImportRequest): Promise<ArchiveImportResult>;
}

export interface ArchiveImportsDeps {
  /** Where archives are spooled (machinedPaths.imageImports). */
  dir: string;
  /** containerd's socket. */
  socket: string;
  /** Tests at the limits; default maxImageArchiveBytes. */
  maxArchive?: number;
  /** Tests at the limits: bytes free on `dir`; default statfs. */
  free?: (dir: string) => number;
}

/** Archive imports spooled in `d.dir`, one at a time. */
export function createArchiveImports(d: ArchiveImportsDeps): ArchiveImports {
  const max = d.maxArchive ?? maxImageArchiveBytes;
  const free = d.free ?? freeBytes;
  let running = false;
  return {
    import: async (req) => {
      if (running) throw exhausted("another image import is under way on this machine (one at a time): wait for it to finish, then retry");
      running = true;
      try {
        declared(req.totalSize, max);
        if (!existsSync(d.socket)) throw unavailable(`containerd is not running (no socket at ${d.socket}): start it (kilnctl service containerd start) and retry`);
        const file = prepare(d.dir, req.totalSize, free);
        try {
          const received = await spool(req, file);
          const images = await importArchive(createReadStream(file), { socket: d.socket, namespace: req.namespace, signal: req.signal });
          return { namespace: req.namespace, images, received };
        } finally {
          rmSync(file, { force: true });
        }
      } finally {
        running = false;
      }
    },
  };
}

/** Refuses a declared size that is not over 0 and at most `max`. */
function declared(total: number, max: number): void {
  if (!Number.isSafeInteger(total) || total <= 0 || total > max) {
    throw invalid(`expected total_size to be the archive's size in bytes, over 0 and at most ${mib(max)} (${max} bytes), got ${total}`);
  }
}

/** Empties `dir` (files a machined that died left behind) and checks the room for `total` bytes; returns the spool file's path. */
function prepare(dir: string, total: number, free: (dir: string) => number): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  const room = free(dir);
  const need = total * 2 + SPARE_BYTES;
  if (need > room) {
    throw exhausted(`an image archive of ${mib(total)} needs ${mib(need)} free on EPHEMERAL (/var: the archive, its copy in containerd and ${mib(SPARE_BYTES)} to spare), which has ${mib(room)}: free space there (remove unused images) or use a larger disk`);
  }
  return join(dir, `${randomUUID()}.tar`);
}

/** Writes the request's bytes to `file` (backpressure honoured); exactly the declared size, or an error. */
async function spool(req: ArchiveImportRequest, file: string): Promise<number> {
  const out = createWriteStream(file, { flags: "wx", mode: 0o600 });
  const failed = once(out, "error").then(([err]) => Promise.reject(err as Error));
  failed.catch(() => {});
  let received = 0;
  try {
    // Opened before anything else, so that the file removed after a failure is never created after it.
    await Promise.race([once(out, "ready"), failed]);
    for await (const chunk of req.data) {
      received += chunk.length;
      if (received > req.totalSize) throw invalid(`the archive is longer than its declared total_size of ${req.totalSize} bytes (${received} bytes so far): send the file's exact size`);
      if (!out.write(chunk)) await Promise.race([once(out, "drain"), failed]);
    }
    if (req.signal.aborted) throw cancelled("the image import was cancelled by the caller");
    if (received !== req.totalSize) throw invalid(`the archive ended after ${received} of its declared total_size of ${req.totalSize} bytes: send the whole file, and its exact size`);
    out.end();
    await Promise.race([once(out, "finish"), failed]);
    return received;
  } catch (err) {
    if (req.signal.aborted) throw cancelled("the image import was cancelled by the caller", err);
    throw err;
  } finally {
    await streamClosed(out.destroy());
  }
}

/** Bytes an unprivileged writer may use on the file system of `dir`. */
function freeBytes(dir: string): number {
  const { bavail, bsize } = statfsSync(dir);
  return bavail * bsize;
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}
