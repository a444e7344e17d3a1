// A content-addressed directory cache: <root>/<hash> exists only complete,
// because it is built under a temporary name and renamed into place.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

export interface CacheHit {
  dir: string;
  /** True when the directory already existed (nothing was built). */
  cached: boolean;
}

/** Returns <root>/<hash>, building it with `build(tempDir)` when absent. */
export function cachedDir(root: string, hash: string, build: (tmp: string) => void): CacheHit {
  const dir = join(root, hash);
  if (existsSync(dir)) return { dir, cached: true };
  mkdirSync(root, { recursive: true });
  removeStaleTemps(root);
  const tmp = mkdtempSync(join(root, `.tmp-${hash}-`));
  try {
    build(tmp);
    renameSync(tmp, dir);
    return { dir, cached: false };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another builder renamed the same hash into place first: use theirs.
    if (existsSync(dir) && isCode(err, "ENOTEMPTY", "EEXIST")) return { dir, cached: true };
    throw new Error(`building cache entry ${dir}`, { cause: err });
  }
}

/** Removes temporary directories left by builds that died over an hour ago (ctime: mtimes are fixed). */
function removeStaleTemps(root: string): void {
  const cutoff = Date.now() - 3600_000;
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    if (name.startsWith(".tmp-") && statSync(p).ctimeMs < cutoff) rmSync(p, { recursive: true, force: true });
  }
}

/** Whether `err` is a Node system error with one of `codes`. */
function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException)?.code ?? "");
}
