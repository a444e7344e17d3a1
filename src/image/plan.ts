// The rootfs as data: a sorted list of directories, files and links, each file
// with the host file it comes from and a key that changes when that file does.
// The plan's hash names the cache entry, so it is computed cheaply (stat for
// host programs, content hashes for the small files kiln owns).
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { posix } from "node:path";
import { cmp } from "./libs.js";

export type PlanEntry =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; source: string; key: string; linkable: boolean }
  | { kind: "link"; path: string; target: string };

/** Collects entries, adding parent directories and refusing conflicting paths. */
export interface PlanBuilder {
  dir(path: string, mode?: number): void;
  /**
   * A host file. "stat": a host program, keyed by inode/size/mtime and
   * hard-linkable (package managers replace such files, never rewrite them).
   * "content": kiln's own files (bundles, rootfs/files), keyed by hash and
   * always copied, since builds and editors rewrite them in place.
   */
  file(path: string, source: string, keyBy: "stat" | "content", mode?: number): void;
  link(path: string, target: string): void;
  /** The entries sorted by path; throws listing every conflict. */
  finish(): PlanEntry[];
}

/** A new, empty plan. */
export function createPlan(): PlanBuilder {
  const byPath = new Map<string, PlanEntry>();
  const conflicts: string[] = [];
  const put = (e: PlanEntry) => {
    const had = byPath.get(e.path);
    if (had && !sameEntry(had, e)) conflicts.push(`${e.path}: ${describe(had)} and ${describe(e)}`);
    if (!had || had.kind === "dir") byPath.set(e.path, e);
    for (const p of parents(e.path)) if (!byPath.has(p)) byPath.set(p, { kind: "dir", path: p, mode: 0o755 });
  };
  return {
    dir: (path, mode = 0o755) => put({ kind: "dir", path, mode }),
    file: (path, source, keyBy, mode) => put(fileEntry(path, source, keyBy, mode)),
    link: (path, target) => put({ kind: "link", path, target }),
    finish: () => {
      if (conflicts.length > 0) throw new Error(`conflicting rootfs entries:\n  ${conflicts.join("\n  ")}`);
      return [...byPath.values()].sort((a, b) => cmp(a.path, b.path));
    },
  };
}

/** A file entry from the real file behind `from`; mode defaults to the source's, normalized to 0755 or 0644. */
export function fileEntry(path: string, from: string, keyBy: "stat" | "content", mode?: number): PlanEntry {
  const source = realpathSync(from);
  const st = statSync(source);
  const key = keyBy === "stat" ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}` : sha256(readFileSync(source));
  return { kind: "file", path, mode: mode ?? normalMode(st.mode), source, key, linkable: keyBy === "stat" };
}

/** 0755 when any execute bit is set, else 0644. */
export function normalMode(mode: number): number {
  return mode & 0o111 ? 0o755 : 0o644;
}

/** The hash naming a plan: everything that decides the tree's contents. */
export function planHash(plan: PlanEntry[], salt: string): string {
  const h = createHash("sha256").update(salt);
  for (const e of plan) h.update(`${JSON.stringify(e.kind === "file" ? { ...e, source: undefined } : e)}\n`);
  return h.digest("hex").slice(0, 32);
}

/** Ancestors of an absolute path, excluding "/". */
function parents(p: string): string[] {
  const out: string[] = [];
  for (let d = posix.dirname(p); d !== "/"; d = posix.dirname(d)) out.push(d);
  return out;
}

/** Two declarations of one path agree (a directory declared twice, or the same file). */
function sameEntry(a: PlanEntry, b: PlanEntry): boolean {
  if (a.kind === "dir" && b.kind === "dir") return true;
  if (a.kind === "file" && b.kind === "file") return a.key === b.key && a.mode === b.mode;
  return a.kind === "link" && b.kind === "link" && a.target === b.target;
}

/** An entry, for conflict messages. */
function describe(e: PlanEntry): string {
  return e.kind === "file" ? `file from ${e.source}` : e.kind === "link" ? `link to ${e.target}` : "directory";
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}
