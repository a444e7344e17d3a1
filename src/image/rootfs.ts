// Assembles the root filesystem tree: rootfs/files (static files), the host
// programs rootfs/manifest.yaml names with every shared library they need,
// kiln's bundles and koffi, the installer payload (the kernel and the disk's
// head), then a site's --overlay over all of it. The tree lands in a
// content-addressed cache directory, so an unchanged build costs a plan and
// a hash.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { basename, join, posix } from "node:path";
import { canonicalPath, mergedUsrLinks } from "../machinery/image-layout.js";
import { imagePaths } from "../machinery/paths.js";
import { cachedDir, keptEntries } from "./cache.js";
import { codeCached, hostNode } from "./code-cache.js";
import { entries as bundleEntries } from "./bundle.js";
import { cmp, defaultLibDirs, resolveLibraries } from "./libs.js";
import { type BinarySpec, type Manifest, parseManifest } from "./manifest.js";
import { materialize } from "./materialize.js";
import { overlayPlan } from "./overlay.js";
import { cacheRoot, distDir, repoRoot } from "./paths.js";
import { createPlan, type PlanBuilder, type PlanEntry, planHash } from "./plan.js";

export interface RootfsOptions {
  /** Cache directory holding one tree per input hash (default $KILN_CACHE/rootfs or ~/.cache/kiln/rootfs). */
  outDir?: string;
  /** The image declaration: manifest.yaml and files/ (default <repo>/rootfs). */
  rootfsDir?: string;
  /** The bundles (default $KILN_DIST or <repo>/dist). */
  distDir?: string;
  /** node_modules holding koffi (default <repo>/node_modules). */
  nodeModules?: string;
  /** mtime of every copied file, directory and link (default $SOURCE_DATE_EPOCH or 0). */
  epoch?: number;
  /** Standard library directories to search (default: Debian amd64's). */
  libDirs?: string[];
  /** Adds more entries (kernel modules, a kubelet); returns host programs whose libraries the image needs. */
  extra?: (plan: PlanBuilder) => string[];
  /** Salt for the cache key (e.g. the image's version string). */
  salt?: string;
  /** Host files of the installer payload (imagePaths.diskHead); none when absent. */
  installer?: InstallerSources;
  /** A host directory laid over the finished tree (overlay.ts). */
  overlay?: string;
}

/** Where the installer payload comes from on the build host. */
export interface InstallerSources {
  /** disk-head.img from disk.ts's buildDiskHead. */
  diskHead: string;
}

export interface RootfsResult {
  /** The tree, ready to bind-mount read-only. */
  dir: string;
  hash: string;
  /** True when an existing tree was reused. */
  cached: boolean;
  /** Every entry, sorted by path. */
  entries: PlanEntry[];
}

// Bump when the layout or the way trees are written changes.
// (2: kiln's own files are copied, no longer hard-linked.)
const builderVersion = "kiln-rootfs-2";

/** Builds (or reuses) the rootfs tree. */
export function buildRootfs(opts: RootfsOptions = {}): RootfsResult {
  const root = opts.rootfsDir ?? join(repoRoot(), "rootfs");
  const epoch = opts.epoch ?? Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  const entries = planRootfs(root, opts);
  const hash = planHash(entries, `${builderVersion}:${epoch}:${opts.salt ?? ""}`);
  const out = opts.outDir ?? join(cacheRoot(), "rootfs");
  // A tree built where the caller asked is theirs to keep; the shared cache keeps the latest few.
  const hit = cachedDir(out, hash, (tmp) => materialize(tmp, entries, epoch), opts.outDir ? Number.POSITIVE_INFINITY : keptEntries);
  return { ...hit, hash, entries };
}

/** The sorted entries of the tree described by `root` and the options. */
export function planRootfs(root: string, opts: RootfsOptions = {}): PlanEntry[] {
  const manifest = loadManifest(join(root, "manifest.yaml"));
  const plan = createPlan();
  for (const [link, target] of Object.entries(mergedUsrLinks)) plan.link(link, target);
  for (const dir of manifest.mountPoints) plan.dir(dir);
  addStaticFiles(plan, join(root, "files"), "/");
  const programs = manifest.binaries.flatMap((b) => addBinary(plan, b));
  programs.push(...addKiln(plan, opts.distDir ?? distDir(), opts.nodeModules ?? join(repoRoot(), "node_modules")));
  if (opts.extra) programs.push(...opts.extra(plan));
  if (opts.installer) addInstaller(plan, opts.installer);
  addLibraries(plan, programs, opts.libDirs ?? defaultLibDirs);
  for (const [link, target] of Object.entries(manifest.symlinks)) plan.link(link, target);
  const entries = plan.finish();
  return opts.overlay === undefined ? entries : overlayPlan(entries, opts.overlay);
}

/** The disk's head (boot code and ESP), where a machine installing itself reads it; copied, keyed by content. */
function addInstaller(plan: PlanBuilder, from: InstallerSources): void {
  plan.file(imagePaths.diskHead, from.diskHead, "content", 0o644);
}

/** Reads and validates the manifest; throws listing every problem. */
export function loadManifest(path: string): Manifest {
  const parsed = parseManifest(readFileSync(path, "utf8"), { KILN_CACHE: cacheRoot() });
  if ("errors" in parsed) throw new Error(`${path}:\n  ${parsed.errors.join("\n  ")}`);
  return parsed.value;
}

/** Adds files/ recursively: files (content-keyed), links as links, directories. */
function addStaticFiles(plan: PlanBuilder, dir: string, at: string): void {
  if (!existsSync(dir)) return;
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => cmp(a.name, b.name))) {
    const src = join(dir, d.name);
    const dest = posix.join(at, d.name);
    if (d.isSymbolicLink()) plan.link(dest, readlinkSync(src));
    else if (d.isDirectory()) {
      plan.dir(dest);
      addStaticFiles(plan, src, dest);
    } else if (d.isFile()) plan.file(dest, src, "content");
  }
}

/** Adds one manifest binary entry; returns the host files added (for library resolution). */
function addBinary(plan: PlanBuilder, b: BinarySpec): string[] {
  if (b.dir !== undefined) return addBinaryDir(plan, b.dir, b.to ?? canonicalPath(b.dir), b.optional);
  const from = b.from?.find((p) => existsSync(p));
  if (!from) {
    if (b.optional) return [];
    throw new Error(`manifest: none of ${b.from?.join(", ")} exists on this host`);
  }
  plan.file(b.to ?? posix.join(imagePaths.bin, basename(from)), from, "stat");
  return [from];
}

/** Adds every regular file of a host directory (not recursive). */
function addBinaryDir(plan: PlanBuilder, dir: string, to: string, optional: boolean): string[] {
  if (!existsSync(dir)) {
    if (optional) return [];
    throw new Error(`manifest: directory ${dir} does not exist on this host`);
  }
  plan.dir(to);
  const files = readdirSync(dir).sort(cmp).filter((n) => statSync(join(dir, n)).isFile());
  for (const n of files) plan.file(posix.join(to, n), join(dir, n), "stat");
  return files.map((n) => join(dir, n));
}

/** Adds the image's bundles (each a loader, the bundle and its V8 code cache: code-cache.ts) and koffi (JS + native module); returns the native module. */
function addKiln(plan: PlanBuilder, dist: string, nodeModules: string): string[] {
  const programs = bundleEntries.filter((x) => x.image);
  for (const e of programs) {
    const src = join(dist, e.out);
    if (!existsSync(src)) {
      if (!e.optional) throw new Error(`${src} is missing: run \`npm run build\` (npx tsx hack/build.ts) first`);
      continue;
    }
    if (e.format !== "cjs") {
      plan.file(posix.join(imagePaths.kilnLib, e.out), src, "content", 0o755);
      continue;
    }
    // An entry per program: the code cache keeps the latest few builds' worth.
    const p = codeCached(join(cacheRoot(), "code-cache"), src, e.out, nodeModules, imagePaths.kilnLib, hostNode, keptEntries * programs.length);
    plan.file(posix.join(imagePaths.kilnLib, e.out), p.loader, "content", 0o755);
    plan.file(posix.join(imagePaths.kilnLib, basename(p.bundle)), p.bundle, "content", 0o644);
    plan.file(posix.join(imagePaths.kilnLib, basename(p.cache)), p.cache, "content", 0o644);
  }
  const koffi = join(nodeModules, "koffi");
  const dest = posix.join(imagePaths.kilnLib, "node_modules/koffi");
  for (const f of koffiFiles) plan.file(posix.join(dest, f), join(koffi, f), "content", 0o644);
  const native = join(nodeModules, "@koromix/koffi-linux-x64/linux_x64/koffi.node");
  plan.file(posix.join(dest, "build/koffi/linux_x64/koffi.node"), native, "content", 0o644);
  return [native];
}

// The part of the koffi package that loads its native module; the module
// itself goes where koffi's loader looks first (build/koffi/<triplet>/).
export const koffiFiles = ["LICENSE.txt", "package.json", "index.cjs", "src/koffi/index.cjs", "src/koffi/src/static.cjs"];

/** Adds every shared library (and the interpreter) the programs need. */
function addLibraries(plan: PlanBuilder, programs: string[], libDirs: string[]): void {
  const libs = resolveLibraries(programs, libDirs);
  if ("error" in libs) throw new Error(`resolving shared libraries: ${libs.error}`);
  for (const lib of libs.value) plan.file(lib.dest, lib.source, "stat");
}
