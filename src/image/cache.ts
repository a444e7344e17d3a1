// A content-addressed directory cache: <root>/<hash> exists only complete,
// because it is built under a temporary name and renamed into place. Every
// use stamps <root>/.used/<name>; after a build, entries beyond the most
// recently used few are removed, so a cache that each change of the tree
// adds to (rootfs, squashfs, initramfs, code cache) does not grow forever.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

export interface CacheHit {
  dir: string;
  /** True when the directory already existed (nothing was built). */
  cached: boolean;
}

/** Returns <root>/<hash>, building it with `build(tempDir)` when absent; after a build, keeps the `keep` most recently used entries (default: all). */
export function cachedDir(root: string, hash: string, build: (tmp: string) => void, keep = Number.POSITIVE_INFINITY): CacheHit {
  const dir = join(root, hash);
  if (existsSync(dir)) {
    markUsed(root, hash);
    return { dir, cached: true };
  }
  mkdirSync(root, { recursive: true });
  removeStaleTemps(root);
  const tmp = mkdtempSync(join(root, `.tmp-${hash}-`));
  try {
    build(tmp);
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another builder renamed the same hash into place first: use theirs.
    if (existsSync(dir) && isCode(err, "ENOTEMPTY", "EEXIST")) return { dir, cached: true };
    throw new Error(`building cache entry ${dir}`, { cause: err });
  }
  markUsed(root, hash);
  pruneCache(root, keep);
  return { dir, cached: false };
}

/** Removes temporary directories left by builds that died over an hour ago (ctime: mtimes are fixed). */
function removeStaleTemps(root: string): void {
  const cutoff = Date.now() - 3600_000;
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    if (name.startsWith(".tmp-") && statSync(p).ctimeMs < cutoff) rmSync(p, { recursive: true, force: true });
  }
}

/** Stamps entry `name` of the cache at `root` as used now. */
export function markUsed(root: string, name: string): void {
  const stamp = join(root, ".used", name);
  const now = new Date();
  try {
    utimesSync(stamp, now, now);
  } catch {
    mkdirSync(join(root, ".used"), { recursive: true });
    closeSync(openSync(stamp, "w"));
  }
}

/** How many entries a cache that every changed build adds to keeps: a few builds back, for bisecting and A/B images. */
export const keptEntries = 8;

/** Entries used this recently are never removed: another build may be reading them. */
export const pruneSpareMs = 15 * 60_000;

/**
 * Removes every entry of the cache at `root` but the `keep` most recently
 * used, sparing any used in the last `pruneSpareMs`; returns the names
 * removed.
 */
export function pruneCache(root: string, keep: number, now = Date.now()): string[] {
  if (!Number.isFinite(keep)) return [];
  // Unstamped (from before stamping, just renamed into place, or a build's temporary file): its ctime, when it was last written or renamed.
  // One another build removed meanwhile counts as in use: there is nothing left to remove.
  const usedAt = (name: string) => statSync(join(root, ".used", name), { throwIfNoEntry: false })?.mtimeMs ?? statSync(join(root, name), { throwIfNoEntry: false })?.ctimeMs ?? now;
  const entries = readdirSync(root)
    .filter((n) => !n.startsWith("."))
    .map((name) => ({ name, at: usedAt(name) }))
    .sort((a, b) => b.at - a.at);
  const removed: string[] = [];
  for (const e of entries.slice(keep)) {
    if (now - e.at < pruneSpareMs) continue;
    rmSync(join(root, e.name), { recursive: true, force: true });
    rmSync(join(root, ".used", e.name), { force: true });
    removed.push(e.name);
  }
  return removed;
}

/** Whether `err` is a Node system error with one of `codes`. */
function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException)?.code ?? "");
}
