// Writes a plan into a directory. Host programs are hard-linked when they are
// on the same filesystem and already have the planned mode (so nothing on the
// host is ever chmod'ed or touched), copied otherwise; kiln's own files are
// always copied (a rebuild rewrites dist/ in place, which would change a
// linked file inside every cached tree). Copies, directories and
// links get the fixed mtime; hard links keep the host's.
import { chmodSync, copyFileSync, linkSync, lutimesSync, mkdirSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { PlanEntry } from "./plan.js";

export interface MaterializeStats {
  linked: number;
  copied: number;
}

/** Creates every entry of `plan` under `root` (which must exist and be empty). */
export function materialize(root: string, plan: PlanEntry[], mtime: number): MaterializeStats {
  const stats: MaterializeStats = { linked: 0, copied: 0 };
  const rootDev = statSync(root).dev;
  for (const e of plan) {
    const at = join(root, e.path);
    if (e.kind === "dir") mkdirSync(at, { mode: e.mode });
    else if (e.kind === "link") symlinkSync(e.target, at);
    else stats[placeFile(at, e, rootDev, mtime)]++;
  }
  fixMetadata(root, plan, mtime);
  return stats;
}

/** Hard-links or copies one file; says which. */
function placeFile(at: string, e: Extract<PlanEntry, { kind: "file" }>, rootDev: number, mtime: number): "linked" | "copied" {
  const st = statSync(e.source);
  if (e.linkable && st.dev === rootDev && (st.mode & 0o7777) === e.mode && tryLink(e.source, at)) return "linked";
  copyFileSync(e.source, at);
  chmodSync(at, e.mode);
  utimesSync(at, mtime, mtime);
  return "copied";
}

/** link(2), false when the filesystem refuses (EXDEV, EPERM…). */
function tryLink(source: string, at: string): boolean {
  try {
    linkSync(source, at);
    return true;
  } catch {
    return false;
  }
}

/** Directory modes (umask-free) and mtimes, deepest first so parents keep theirs. */
function fixMetadata(root: string, plan: PlanEntry[], mtime: number): void {
  for (const e of [...plan].reverse()) {
    const at = join(root, e.path);
    if (e.kind === "dir") {
      chmodSync(at, e.mode);
      utimesSync(at, mtime, mtime);
    } else if (e.kind === "link") lutimesSync(at, mtime, mtime);
  }
  chmodSync(root, 0o755);
  utimesSync(root, mtime, mtime);
}
