// Which files the List and Read RPCs may serve: any absolute path except
// those under a forbidden directory (STATE, apid's TLS keys). Paths are
// resolved (symlinks, "..") before the check, and a directory is also
// recognised by device and inode, so a bind mount of a forbidden directory
// is refused too.
import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute } from "node:path";
import { forbidden as denied, invalid, notFound, refused } from "../errors.js";

/** A directory never served, and why (for the refusal message). */
export interface Forbidden {
  path: string;
  why: string;
}

interface ForbiddenRoot extends Forbidden {
  real: string;
  dev?: number;
  ino?: number;
}

export interface FileGuard {
  /** The real path of `path`; not-found when missing, forbidden when under a forbidden directory. */
  resolve(path: string): Promise<string>;
  /** Throws forbidden when a real path (stat `st`) is, or is under, a forbidden directory. */
  check(real: string, st?: Stats): Promise<void>;
}

/** A guard over `forbidden`; their real paths and inodes are looked up at each call. */
export function createFileGuard(forbidden: Forbidden[]): FileGuard {
  const check = async (real: string, st?: Stats) => {
    const roots = await forbiddenRoots(forbidden);
    const hit = roots.find((r) => isUnder(real, r.real)) ?? (st ? roots.find((r) => sameInode(st, r)) : await ancestorHit(real, roots));
    if (hit) throw denied(`${real}: refused: it is under ${hit.path}, ${hit.why}`);
  };
  return {
    check,
    resolve: async (path) => {
      const real = await realPathOf(path);
      await check(real);
      return real;
    },
  };
}

/** The forbidden directories with their real paths and inodes (when they exist). */
async function forbiddenRoots(forbidden: Forbidden[]): Promise<ForbiddenRoot[]> {
  return Promise.all(
    forbidden.map(async (f) => {
      const real = await realpath(f.path).catch(() => f.path);
      const st = await stat(real).catch(() => undefined);
      return { ...f, real, ...(st ? { dev: st.dev, ino: st.ino } : {}) };
    }),
  );
}

/** Whether `path` is `root` or inside it. */
function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** Whether `st` is the forbidden directory itself (seen through another path). */
function sameInode(st: Stats, r: ForbiddenRoot): boolean {
  return r.ino !== undefined && st.dev === r.dev && st.ino === r.ino;
}

/** The forbidden directory that `real` or one of its ancestors is (by inode), if any. */
async function ancestorHit(real: string, roots: ForbiddenRoot[]): Promise<ForbiddenRoot | undefined> {
  for (let p = real; ; p = dirname(p)) {
    const st = await stat(p).catch(() => undefined);
    const hit = st && roots.find((r) => sameInode(st, r));
    if (hit || p === "/") return hit;
  }
}

/** realpath(3) of an absolute path, with machined's errors. */
async function realPathOf(path: string): Promise<string> {
  if (!isAbsolute(path)) throw invalid(`expected an absolute path, got ${JSON.stringify(path)}`);
  try {
    return await realpath(path);
  } catch (err) {
    throw pathError(path, err);
  }
}

/** The error for a failed filesystem call on `path`: not-found, forbidden, refused, else the error itself. */
export function pathError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return notFound(`${path}: no such file or directory`, err);
  if (code === "EACCES" || code === "EPERM") return denied(`${path}: permission denied`, err);
  if (code === "ELOOP") return refused(`${path}: too many levels of symbolic links`, err);
  return err instanceof Error ? err : new Error(`${path}: ${String(err)}`);
}
