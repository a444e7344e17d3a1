// rootfs.sqsh: the read-only root as a squashfs image, made by Debian's
// mksquashfs with every source of variation pinned (times, owners, the
// reproducible ordering mksquashfs uses by default), so the same tree gives
// the same bytes. Cached by the tree's hash; the cache keeps the latest few.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { keptEntries, markUsed, pruneCache } from "./cache.js";

export interface SquashfsOptions {
  /** The tree to pack. */
  tree: string;
  /** Where the cached image goes: <cacheDir>/<key>.sqsh. */
  cacheDir: string;
  /** Names the cache entry (the tree's content hash). */
  key: string;
  /** Every timestamp in the image. */
  epoch: number;
}

/** The arguments that make the image: zstd blocks, root-owned, fixed times. */
export function mksquashfsArgs(tree: string, out: string, epoch: number): string[] {
  return [tree, out, "-noappend", "-quiet", "-no-progress", "-comp", "zstd", "-Xcompression-level", "9", "-b", "1M",
    "-all-root", "-reproducible", "-mkfs-time", String(epoch), "-all-time", String(epoch), "-no-xattrs"];
}

/** Builds (or reuses) the squashfs image of `tree`; returns its path and whether it was cached. */
export function buildSquashfs(o: SquashfsOptions): { path: string; cached: boolean } {
  // The arguments are part of the key: changing how we pack changes the bytes.
  const how = createHash("sha256").update(mksquashfsArgs("", "", o.epoch).join(" ")).digest("hex").slice(0, 12);
  const path = join(o.cacheDir, `${o.key}-${how}.sqsh`);
  if (existsSync(path)) {
    markUsed(o.cacheDir, basename(path));
    return { path, cached: true };
  }
  mkdirSync(o.cacheDir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    execFileSync("mksquashfs", mksquashfsArgs(o.tree, tmp, o.epoch), { stdio: ["ignore", "ignore", "pipe"] });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
    throw new Error(missing ? "mksquashfs is not installed: apt-get install squashfs-tools" : `mksquashfs failed: ${stderr}`, { cause: err });
  }
  markUsed(o.cacheDir, basename(path));
  pruneCache(o.cacheDir, keptEntries);
  return { path, cached: false };
}
