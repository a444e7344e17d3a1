// Writes a file so that a crash or a full disk leaves either the old or the
// new content, never a torn one: temp file, every byte written (a short write
// is looped on), fsync, length checked, rename, fsync of the directory.
// Out of space is an `exhausted` error the caller sees; the old file stays.
import { closeSync, fstatSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { exhausted } from "./errors.js";

/** A written and synced temp file, not yet in place. */
export interface StagedFile {
  /** Renames it over its target and syncs the directory. */
  commit(): void;
  /** Removes the temp file. */
  discard(): void;
}

/** Replaces `path` atomically with `data`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  writeFilesAtomic([{ path, data, mode }]);
}

/** Stages every file first, then renames them: a full disk is found before any file changes. */
export function writeFilesAtomic(files: { path: string; data: string | Uint8Array; mode?: number }[]): void {
  const staged: StagedFile[] = [];
  try {
    for (const f of files) staged.push(stageFile(f.path, f.data, f.mode));
  } catch (err) {
    for (const s of staged) s.discard();
    throw err;
  }
  for (const s of staged) s.commit();
}

/** Writes `data` to a temp file beside `path` and syncs it; nothing at `path` changes yet. */
export function stageFile(path: string, data: string | Uint8Array, mode = 0o600): StagedFile {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeAll(fd, bytes);
      fsyncSync(fd);
      const size = fstatSync(fd).size;
      if (size !== bytes.length) throw new Error(`${tmp} holds ${size} of ${bytes.length} bytes after writing`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw outOfSpace(err) ? exhausted(`writing ${path}: no space left on its filesystem (${bytes.length} bytes needed); ${path} was left as it was`, err) : err;
  }
  return {
    commit: () => {
      try {
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
      fsyncDir(dirname(path));
    },
    discard: () => rmSync(tmp, { force: true }),
  };
}

/** write(2) until every byte is written; a write of 0 bytes is an error, not a loop. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    const n = writeSync(fd, bytes, off, bytes.length - off);
    if (n <= 0) throw Object.assign(new Error(`write returned ${n} at byte ${off} of ${bytes.length}`), { code: "ENOSPC" });
    off += n;
  }
}

/** ENOSPC or EDQUOT: the filesystem (or the quota) is full. */
function outOfSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** fsync a directory so a rename in it is durable. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
