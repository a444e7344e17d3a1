// Which files the List and Read RPCs may serve: any absolute path except
// those under a forbidden directory (STATE, apid's TLS keys). The guard works
// by filesystem, not only by path: paths are resolved (symlinks, "..") and
// checked, and then what is there is recognised by device and inode, so a
// hard link or a bind mount (of the directory, a subdirectory or one file) is
// refused whatever its path:
// - a forbidden directory that is its own filesystem (STATE on metal): all
//   of that device is refused;
// - one that shares its parent's filesystem (apid's under /run, STATE in the
//   sandbox): the inodes of its tree are refused.
import type { Stats } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
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
  /** The directory is the root of its own filesystem: its whole device is forbidden. */
  ownFs?: boolean;
}

/** The most entries of a forbidden tree the guard looks through for an inode. */
const MAX_SCAN = 10_000;

export interface FileGuard {
  /** The real path of `path`; not-found when missing, forbidden when under a forbidden directory. */
  resolve(path: string): Promise<string>;
  /** Throws forbidden when a real path (stat `st`) is, is under, or is on the filesystem or an inode of a forbidden directory. */
  check(real: string, st?: Stats): Promise<void>;
}

/** A guard over `forbidden`; their real paths and inodes are looked up at each call. */
export function createFileGuard(forbidden: Forbidden[]): FileGuard {
  const check = async (real: string, st?: Stats) => {
    const roots = await forbiddenRoots(forbidden);
    const hit = roots.find((r) => isUnder(real, r.real)) ?? (st ? roots.find((r) => sameInode(st, r)) : await ancestorHit(real, roots));
    if (hit) throw denied(`${real}: refused: it is under ${hit.path}, ${hit.why}`);
    const here = st ?? (await stat(real).catch(() => undefined));
    const fs = here && roots.find((r) => r.ownFs && here.dev === r.dev);
    if (fs) throw denied(`${real}: refused: it is on the filesystem of ${fs.path}, ${fs.why}`);
    const link = here && (await inodeHit(here, roots));
    if (link) throw denied(`${real}: refused: it is ${link.path}'s own file seen through another path (a hard link or bind mount), ${link.why}`);
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
      const parent = await stat(dirname(real)).catch(() => undefined);
      return { ...f, real, ...(st ? { dev: st.dev, ino: st.ino, ownFs: parent !== undefined && parent.dev !== st.dev } : {}) };
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

/** The forbidden directory (sharing its parent's filesystem) whose tree holds the inode `st`, if any. */
async function inodeHit(st: Stats, roots: ForbiddenRoot[]): Promise<ForbiddenRoot | undefined> {
  for (const r of roots) {
    if (r.ownFs || r.dev !== st.dev) continue;
    if (await treeHolds(r.real, st.ino)) return r;
  }
  return undefined;
}

/** Whether the tree at `dir` (its own filesystem, at most MAX_SCAN entries; past that, refuse) holds inode `ino`. */
async function treeHolds(dir: string, ino: number): Promise<boolean> {
  const queue = [dir];
  let seen = 0;
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    for (const name of await readdir(d).catch(() => [])) {
      if (++seen > MAX_SCAN) return true;
      const st = await lstat(join(d, name)).catch(() => undefined);
      if (st?.ino === ino) return true;
      if (st?.isDirectory()) queue.push(join(d, name));
    }
  }
  return false;
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
