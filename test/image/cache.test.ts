// The content-addressed cache on real files: a hit reuses and stamps its
// entry, a build keeps only the most recently used few, and nothing used in
// the last minutes (a build under way may read it) is removed.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { cachedDir, markUsed, pruneCache, pruneSpareMs } from "../../src/image/cache.js";

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-cache-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Builds entry `name` and backdates its use by `agoMs`. */
function entry(root: string, name: string, agoMs: number): void {
  cachedDir(root, name, (tmp) => writeFileSync(join(tmp, "f"), name));
  const at = new Date(Date.now() - agoMs);
  utimesSync(join(root, ".used", name), at, at);
}

const hour = 3600_000;
const names = (root: string) => readdirSync(root).filter((n) => !n.startsWith(".")).sort();

t.test("a hit reuses the entry and stamps it used", async (t) => {
  const root = scratch(t);
  let builds = 0;
  const first = cachedDir(root, "a", (tmp) => {
    builds++;
    writeFileSync(join(tmp, "f"), "a");
  });
  t.same([first.cached, builds], [false, 1]);
  const at = new Date(Date.now() - hour);
  utimesSync(join(root, ".used", "a"), at, at);
  const again = cachedDir(root, "a", () => builds++);
  t.same([again.cached, builds, again.dir], [true, 1, first.dir]);
  t.ok(Date.now() - pruneStamp(root, "a") < 60_000, "the hit moved the stamp to now");
});

function pruneStamp(root: string, name: string): number {
  return statSync(join(root, ".used", name)).mtimeMs;
}

t.test("a build keeps the most recently used entries and removes the rest", async (t) => {
  const root = scratch(t);
  entry(root, "old", 5 * hour);
  entry(root, "older", 6 * hour);
  entry(root, "recent", 2 * hour);
  cachedDir(root, "new", (tmp) => writeFileSync(join(tmp, "f"), "new"), 2);
  t.same(names(root), ["new", "recent"], "the two most recently used stay");
  t.notOk(existsSync(join(root, ".used", "old")), "a removed entry's stamp goes with it");
});

t.test("an entry used (or written) in the last minutes is spared past the limit", async (t) => {
  const root = scratch(t);
  entry(root, "a", 2 * hour);
  entry(root, "b", pruneSpareMs / 2);
  // A build under way: its temporary file has no stamp, but was written just now.
  writeFileSync(join(root, "c.sqsh.tmp-123"), "partial");
  t.same(pruneCache(root, 1), ["a"]);
  t.same(names(root), ["b", "c.sqsh.tmp-123"]);
});

t.test("without a limit nothing is removed; a file entry is stamped by name", async (t) => {
  const root = scratch(t);
  entry(root, "a", 10 * hour);
  cachedDir(root, "b", (tmp) => writeFileSync(join(tmp, "f"), "b"));
  t.same(names(root), ["a", "b"]);
  writeFileSync(join(root, "x.sqsh"), "x");
  markUsed(root, "x.sqsh");
  t.ok(existsSync(join(root, ".used", "x.sqsh")));
});
