// `kilnctl image build --overlay DIR`: a site's own files (a CA bundle, a
// patched binary) laid over the finished rootfs plan, after everything else.
// DIR mirrors the image from /:
//   - a file adds or replaces the file or link at its path (mode 0755 when
//     any execute bit is set, else 0644; owned by root like everything else);
//   - a directory merges with the image's (new ones are 0755);
//   - a symlink becomes a link, as in rootfs/files/: it is not followed.
// Paths go through the image's own links, so DIR/bin/x lands at /usr/bin/x
// (/bin is a link to usr/bin) and nothing is ever placed beneath a link.
// Refused, every problem at once, each naming the overlay's path and the
// image's: a file or link where the image has a directory, a directory
// where it has a file, and a link that leaves the image (a relative target
// climbing above /, or an absolute one into a directory the image lacks,
// which is a host path, e.g. a link to the file instead of a copy).
import { readdirSync, readlinkSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { cmp } from "./libs.js";
import { fileEntry, type PlanEntry } from "./plan.js";

type ByPath = Map<string, PlanEntry>;

/** `entries` with the tree at `dir` laid over them, sorted by path; throws listing every problem. */
export function overlayPlan(entries: PlanEntry[], dir: string): PlanEntry[] {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`--overlay ${dir}: not a directory: give a directory laid out like the image's root, e.g. DIR/etc/ssl/certs/ca-certificates.crt`);
  }
  const byPath: ByPath = new Map(entries.map((e) => [e.path, e]));
  const problems: string[] = [];
  const links: { src: string; path: string; target: string }[] = [];
  layOver(byPath, dir, "/", problems, links);
  // Checked once the whole overlay is in: a link may point at what a later part of it adds.
  for (const l of links) {
    const why = leavesImage(byPath, l.path, l.target);
    if (why) problems.push(`${l.src} is a link to ${l.target}, ${why} (it would be ${l.path}): link to a path inside the image, or copy the file into the overlay`);
  }
  if (problems.length > 0) throw new Error(`--overlay ${dir}:\n  ${problems.join("\n  ")}`);
  return [...byPath.values()].sort((a, b) => cmp(a.path, b.path));
}

/** Lays host directory `from` over image directory `at` (a real path: no links among its components). */
function layOver(byPath: ByPath, from: string, at: string, problems: string[], links: { src: string; path: string; target: string }[]): void {
  for (const d of readdirSync(from, { withFileTypes: true }).sort((a, b) => cmp(a.name, b.name))) {
    const src = join(from, d.name);
    const path = posix.join(at, d.name);
    const had = byPath.get(path);
    if (d.isDirectory()) {
      const into = directoryAt(byPath, src, path, problems);
      if (into !== undefined) layOver(byPath, src, into, problems, links);
    } else if (had?.kind === "dir" && (d.isFile() || d.isSymbolicLink())) {
      problems.push(`${src} is a ${d.isFile() ? "file" : "link"}, but ${path} is a directory in the image: an overlay replaces files and links, not directories`);
    } else if (d.isFile()) {
      byPath.set(path, fileEntry(path, src, "content"));
    } else if (d.isSymbolicLink()) {
      const target = readlinkSync(src);
      byPath.set(path, { kind: "link", path, target });
      links.push({ src, path, target });
    } else {
      problems.push(`${src}: not a file, directory or symlink, which is all an overlay may hold`);
    }
  }
}

/** The real image directory an overlay directory merges into (made when new), or undefined after noting why there is none. */
function directoryAt(byPath: ByPath, src: string, path: string, problems: string[]): string | undefined {
  const had = byPath.get(path);
  if (had === undefined) {
    byPath.set(path, { kind: "dir", path, mode: 0o755 });
    return path;
  }
  if (had.kind === "dir") return path;
  if (had.kind === "file") {
    problems.push(`${src} is a directory, but ${path} is a file in the image: an overlay cannot turn a file into a directory`);
    return undefined;
  }
  const real = realPath(byPath, path);
  if ("error" in real) problems.push(`${src} is a directory, but ${path} in the image ${real.error}`);
  else if (byPath.get(real.path)?.kind !== "dir") problems.push(`${src} is a directory, but ${path} in the image is a link to ${had.target}, which is not a directory`);
  else return real.path;
  return undefined;
}

/** Why a link at `path` to `target` leaves the image, or undefined when it stays inside. */
function leavesImage(byPath: ByPath, path: string, target: string): string | undefined {
  const abs = inRoot(posix.dirname(path), target);
  if (abs === undefined) return "which climbs above the image's root";
  const top = abs.split("/")[1];
  if (top && !byPath.has(`/${top}`)) return `but the image has no /${top}`;
  return undefined;
}

/** `p` with every link among its components resolved through the image's links, or why it cannot be. */
function realPath(byPath: ByPath, p: string, hops = { n: 0 }): { path: string } | { error: string } {
  let real = "/";
  for (const part of p.split("/").filter(Boolean)) {
    const next = posix.join(real, part);
    const e = byPath.get(next);
    if (e?.kind !== "link") {
      real = next;
      continue;
    }
    if (++hops.n > 40) return { error: "is in a loop of links" };
    const target = inRoot(real, e.target);
    if (target === undefined) return { error: `is under ${next}, a link to ${e.target}, which climbs above the image's root` };
    const r = realPath(byPath, target, hops);
    if ("error" in r) return r;
    real = r.path;
  }
  return { path: real };
}

/** A link's `target` as an absolute path, the link being in directory `dir`; undefined when `..` climbs above /. */
function inRoot(dir: string, target: string): string | undefined {
  const parts = target.startsWith("/") ? [] : dir.split("/").filter(Boolean);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") parts.push(part);
    else if (parts.pop() === undefined) return undefined;
  }
  return `/${parts.join("/")}`;
}
