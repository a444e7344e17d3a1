// Where the builder finds its inputs (the repository, dist/, rootfs/) and
// keeps its outputs (the cache). Works from the sources (tsx) and from a
// bundle in dist/ alike, by looking upwards for kiln's package.json.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest ancestor of this module with kiln's package.json. */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (isKilnPackage(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no kiln package.json above ${from}`);
  }
}

/** Whether `file` is kiln's package.json. */
function isKilnPackage(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "kiln";
  } catch {
    return false;
  }
}

/** The bundles' directory: $KILN_DIST, else <repo>/dist. */
export function distDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KILN_DIST ?? join(repoRoot(), "dist");
}

/** kiln's cache root: $KILN_CACHE, else ~/.cache/kiln. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.KILN_CACHE ?? join(env.HOME ?? homedir(), ".cache", "kiln");
}
