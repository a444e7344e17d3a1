// Which files the List and Read RPCs may serve: any absolute path except
// those under a forbidden directory (STATE, apid's TLS keys). Paths are
// resolved (symlinks, "..") before the check, and a directory is also
// recognised by device and inode, so a bind mount of a forbidden directory
// is refused too.
import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute } from "node:path";
import { ApiError, Code } from "../../grpc/errors.js";

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
  /** The real path of `path`; NOT_FOUND when missing, PERMISSION_DENIED when forbidden. */
  resolve(path: string): Promise<string>;
  /** Throws PERMISSION_DENIED when a real path (stat `st`) is, or is under, a forbidden directory. */
  check(real: string, st?: Stats): Promise<void>;
}

/** A guard over `forbidden`; their real paths and inodes are looked up at each call. */
export function createFileGuard(forbidden: Forbidden[]): FileGuard {
  const check = async (real: string, st?: Stats) => {
    const roots = await forbiddenRoots(forbidden);
    const hit = roots.find((r) => isUnder(real, r.real)) ?? (st ? roots.find((r) => sameInode(st, r)) : await ancestorHit(real, roots));
    if (hit) throw new ApiError(Code.PERMISSION_DENIED, `${real}: refused: it is under ${hit.path}, ${hit.why}`);
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

/** realpath(3) of an absolute path, with the API's errors. */
async function realPathOf(path: string): Promise<string> {
  if (!isAbsolute(path)) throw new ApiError(Code.INVALID_ARGUMENT, `expected an absolute path, got ${JSON.stringify(path)}`);
  try {
    return await realpath(path);
  } catch (err) {
    throw pathError(path, err);
  }
}

/** An ApiError for a failed filesystem call on `path`. */
export function pathError(path: string, err: unknown): ApiError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new ApiError(Code.NOT_FOUND, `${path}: no such file or directory`, { cause: err });
  if (code === "EACCES" || code === "EPERM") return new ApiError(Code.PERMISSION_DENIED, `${path}: permission denied`, { cause: err });
  if (code === "ELOOP") return new ApiError(Code.FAILED_PRECONDITION, `${path}: too many levels of symbolic links`, { cause: err });
  return ApiError.from(err);
}
