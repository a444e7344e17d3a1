// The List and Read RPCs: walking a directory tree and streaming a file,
// both through the file guard. Symlinks are reported, never followed, while
// walking; a forbidden directory met on the way is listed with an error and
// not entered.
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { invalid, MachineError } from "../errors.js";
import { type FileGuard, pathError } from "./file-guard.js";

export interface ListQuery {
  /** Absolute path of the directory (or file) to list. */
  root: string;
  /** 0 or 1: the root and its entries; N: N levels below the root; negative: unlimited. */
  maxDepth: number;
  signal?: AbortSignal;
}

export interface FileEntry {
  /** Relative to the root; the root itself is ".". */
  name: string;
  size: number;
  /** st_mode: file type and permission bits. */
  mode: number;
  modified: Date;
  isDir: boolean;
  /** Symlink target, if a link. */
  link: string;
  /** Why this entry could not be read or entered; "" when fine. */
  error: string;
}

export interface ReadQuery {
  path: string;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

/** The root, then its entries depth-first in name order, down to maxDepth. */
export async function* listFiles(guard: FileGuard, q: ListQuery): AsyncGenerator<FileEntry> {
  const root = await guard.resolve(q.root);
  await lstat(root).catch((err: unknown) => {
    throw pathError(q.root, err);
  });
  yield* visit(guard, root, ".", q.maxDepth < 0 ? Number.POSITIVE_INFINITY : Math.max(1, q.maxDepth), q.signal);
}

/** One path's entry, then (a directory with levels left) its children's. */
async function* visit(guard: FileGuard, path: string, name: string, levels: number, signal?: AbortSignal): AsyncGenerator<FileEntry> {
  const st = await lstat(path).catch((err: unknown) => err as Error);
  if (st instanceof Error) return yield failedEntry(name, st);
  const entry = await entryOf(name, path, st);
  if (!st.isDirectory() || levels <= 0) return yield entry;
  const children = await childrenOf(guard, path, st);
  if (typeof children === "string") return yield { ...entry, error: children };
  yield entry;
  for (const child of children) {
    if (signal?.aborted) return;
    yield* visit(guard, join(path, child), name === "." ? child : `${name}/${child}`, levels - 1, signal);
  }
}

/** A directory's entry names in order, or why it may not or cannot be entered. */
async function childrenOf(guard: FileGuard, path: string, st: Stats): Promise<string[] | string> {
  try {
    await guard.check(path, st);
    return (await readdir(path)).sort();
  } catch (err) {
    return err instanceof MachineError ? err.message : errnoText(err);
  }
}

/** The entry for a path whose lstat is `st`. */
async function entryOf(name: string, path: string, st: Stats): Promise<FileEntry> {
  const link = st.isSymbolicLink() ? await readlink(path).catch(() => "") : "";
  return { name, size: st.size, mode: st.mode, modified: st.mtime, isDir: st.isDirectory(), link, error: "" };
}

/** An entry for a path that could not even be stat'ed. */
function failedEntry(name: string, err: Error): FileEntry {
  return { name, size: 0, mode: 0, modified: new Date(0), isDir: false, link: "", error: errnoText(err) };
}

/** A filesystem error in a few words, e.g. "permission denied (EACCES)". */
function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.message.replace(/^\w+: /, "").replace(/,.*$/, "")} (${e.code})` : String(e.message ?? err);
}

/** A regular file's bytes in chunks, until its end or the signal aborts. */
export async function* readFileChunks(guard: FileGuard, q: ReadQuery): AsyncGenerator<Uint8Array> {
  const real = await guard.resolve(q.path);
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => {
    throw pathError(q.path, err);
  });
  try {
    await checkOpened(guard, fh.fd, real, await fh.stat());
    const buf = Buffer.alloc(CHUNK);
    for (let n = 1; n > 0 && !q.signal?.aborted; ) {
      n = (await fh.read(buf, 0, CHUNK, null)).bytesRead;
      if (n > 0) yield Uint8Array.prototype.slice.call(buf, 0, n);
    }
  } finally {
    await fh.close();
  }
}

/** Refuses what was opened unless it is a regular file that is still allowed (the path may have changed since). */
async function checkOpened(guard: FileGuard, fd: number, real: string, st: Stats): Promise<void> {
  if (st.isDirectory()) throw invalid(`${real}: is a directory (use List)`);
  if (!st.isFile()) throw invalid(`${real}: not a regular file; only regular files can be read`);
  await guard.check(await readlink(`/proc/self/fd/${fd}`).catch(() => real));
}
