// `kilnctl image build`: everything a machine boots from, in one directory:
// kernel, initramfs (stage 1 + node + boot modules, then rootfs.sqsh),
// cmdline, rootfs.sqsh, manifest.json, disk.raw and kiln-upgrade.tar. The
// disk's head (MBR, GPT, BIOS boot, ESP) is made before the rootfs, which
// carries it with the kernel for a machine to install itself. The rootfs,
// rootfs.sqsh and node's initramfs segment are cached by their inputs, so a
// rebuild after a kiln change redoes only the small parts; the disk's head
// (~1 s), disk.raw and the bundle are made every time.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, posix, relative } from "node:path";
import semverValid from "semver/functions/valid.js";
import { type ImageComponents, KUBERNETES_PROGRAMS, pauseImageName, versionInLine } from "../machinery/components.js";
import { mergedUsrLinks } from "../machinery/image-layout.js";
import { readModuleTable, resolveModules } from "../machinery/modules-dep.js";
import { BOOT_MODULES, EXTRA_MODULES, ROOT_MODULES, RUNTIME_MODULES } from "../machinery/modules-list.js";
import { imagePaths, initramfsPaths } from "../machinery/paths.js";
import { writeBundle } from "../machinery/upgrade-bundle.js";
import { type CpioEntry, writeCpio } from "./cpio.js";
import { buildDisk, buildDiskHead } from "./disk.js";
import { type Compression, compress } from "./initramfs.js";
import { fetchKernel, type Kernel } from "./kernel.js";
import { defaultLibDirs, resolveLibraries } from "./libs.js";
import { cacheRoot, distDir, repoRoot } from "./paths.js";
import { buildRootfs, koffiFiles } from "./rootfs.js";
import { hostNode } from "./code-cache.js";
import { keptEntries, markUsed, pruneCache } from "./cache.js";
import { buildSquashfs } from "./squashfs.js";
import { type ImageManifest, imageManifest } from "./image-manifest.js";
import { ociImageArchive } from "./oci-image.js";

export interface ImageOptions {
  outDir: string;
  /** A kubelet binary to include as /usr/bin/kubelet (only; `kubernetes` brings every Kubernetes program). */
  kubelet?: string;
  /** A directory holding kubelet, kube-proxy, kube-apiserver, kube-controller-manager and kube-scheduler of one version (hack/kubernetes.sh builds it). */
  kubernetes?: string;
  /** OCI image archives to bake into the image cache, imported into containerd at boot. */
  imageCache?: string[];
  /** The version the image reports, a semantic version (default: package.json's). */
  version?: string;
  /** Compression of the initramfs's own files (default zstd). */
  compress?: Compression;
  /** Every timestamp (default $SOURCE_DATE_EPOCH, else 0). */
  epoch?: number;
  /** Pin the kernel release (skips apt on a warm cache). */
  kernelRelease?: string;
  /** Also write disk.raw, a bootable GPT disk with the image in slot A (default true). */
  disk?: boolean;
  /** A directory laid over the rootfs after everything else (overlay.ts). */
  overlay?: string;
  /** Called as each step starts; index and total count only the steps this build runs. */
  onProgress?: (step: ImageStep, index: number, total: number) => void;
}

/** The steps, in order: the disk's head goes into the rootfs, the bundle holds the manifest. */
export const IMAGE_STEPS = ["kernel", "disk-head", "rootfs", "squashfs", "initramfs", "manifest", "disk", "bundle"] as const;
export type ImageStep = (typeof IMAGE_STEPS)[number];

export interface ImageResult {
  outDir: string;
  manifest: ImageManifest;
  /** Milliseconds per step. */
  timings: Record<ImageStep, number>;
}

/** The default kernel command line. kiln.config=… may be appended. */
export const DEFAULT_CMDLINE = "console=ttyS0 panic=10 quiet";

/** Builds the image into opts.outDir. */
export async function buildImage(opts: ImageOptions): Promise<ImageResult> {
  const epoch = opts.epoch ?? Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  const version = opts.version ?? packageVersion();
  checkInputs(opts, version);
  const k8s = kubernetesPrograms(opts);
  const pause = await pauseImage(epoch);
  const components: ImageComponents = { ...k8s.components, pauseImage: pause.name };
  const imageCache = [{ name: "pause.tar", source: pause.path }, ...(opts.imageCache ?? []).map((f) => ({ name: basename(f), source: f }))];
  const cache = cacheRoot();
  const steps = IMAGE_STEPS.filter((s) => s !== "disk" || (opts.disk ?? true));
  const timings = {} as Record<ImageStep, number>;
  const run = async <T>(step: ImageStep, fn: () => T | Promise<T>): Promise<T> => {
    opts.onProgress?.(step, steps.indexOf(step), steps.length);
    const t0 = performance.now();
    try {
      return await fn();
    } catch (cause) {
      throw new Error(`image build: ${step}`, { cause });
    } finally {
      timings[step] = Math.round(performance.now() - t0);
    }
  };
  const work = mkdtempSync(join(tmpdir(), "kiln-image-"));
  try {
    const kernel = await run("kernel", () => fetchKernel({ cacheDir: join(cache, "kernel"), ...(opts.kernelRelease ? { release: opts.kernelRelease } : {}) }));
    const head = join(work, "disk-head.img");
    await run("disk-head", () => buildDiskHead({ outFile: head, cmdline: DEFAULT_CMDLINE, epoch }));
    const table = readModuleTable(kernel.modulesDir);
    const rootModules = resolveModules(table, ROOT_MODULES);
    const bootModules = resolveModules(table, [...ROOT_MODULES, ...BOOT_MODULES]).filter((m) => !rootModules.includes(m));
    const stage1Modules = { root: rootModules, boot: bootModules };
    const allModules = [...new Set([...rootModules, ...bootModules, ...resolveModules(table, [...RUNTIME_MODULES, ...EXTRA_MODULES])])].sort();
    const rootfs = await run("rootfs", () =>
      buildRootfs({
        epoch,
        salt: version,
        installer: { diskHead: head },
        ...(opts.overlay !== undefined ? { overlay: opts.overlay } : {}),
        extra: (plan) => addImageExtras(plan, { kernel, modules: allModules, k8s, components, imageCache, version }),
      }),
    );
    const sqsh = await run("squashfs", () => buildSquashfs({ tree: rootfs.dir, cacheDir: join(cache, "squashfs"), key: `${rootfs.hash}-${epoch}`, epoch }));
    mkdirSync(opts.outDir, { recursive: true });
    const out = (name: string) => join(opts.outDir, name);
    await run("initramfs", () => writeBootFiles(opts, out, cache, kernel, stage1Modules, sqsh.path, epoch));
    const manifest = await run("manifest", () => {
      const m = imageManifest({ outDir: opts.outDir, kernel, version, entries: rootfs.entries, tree: rootfs.dir, components, compress: opts.compress ?? "zstd" });
      atomicWrite(out("manifest.json"), `${JSON.stringify(m, null, 2)}\n`);
      return m;
    });
    const slot = { kernel: out("kernel"), initramfs: out("initramfs"), manifest: out("manifest.json"), cmdline: out("cmdline") };
    // disk.raw and the bundle hold manifest.json, so the manifest cannot hold their sha256.
    if (steps.includes("disk")) await run("disk", () => buildDisk({ outFile: out("disk.raw"), head, epoch, slotA: slot }));
    await run("bundle", () =>
      writeBundle(out("kiln-upgrade.tar"), { vmlinuz: slot.kernel, initramfs: slot.initramfs, manifest: slot.manifest, cmdline: slot.cmdline }, { version, kernel: kernel.version, epoch }),
    );
    return { outDir: opts.outDir, manifest, timings };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Refuses, before any work, inputs a later step would refuse. */
function checkInputs(opts: ImageOptions, version: string): void {
  if (semverValid(version) === null) throw new Error(`--version ${version}: expected a semantic version like 1.2.3 (the upgrade bundle carries it, and machines compare versions)`);
  if (opts.kubelet !== undefined && opts.kubernetes !== undefined) throw new Error("--kubelet and --kubernetes: give one (--kubernetes DIR brings the kubelet too)");
  if (opts.kubelet !== undefined && !existsSync(opts.kubelet)) throw new Error(`--kubelet ${opts.kubelet}: no such file`);
  const cached = new Set(["pause.tar"]);
  for (const f of opts.imageCache ?? []) {
    if (!statSync(f, { throwIfNoEntry: false })?.isFile()) throw new Error(`--image-cache ${f}: no such file; give an OCI image archive (podman save --format oci-archive, skopeo copy … oci-archive:FILE)`);
    if (!f.endsWith(".tar")) throw new Error(`--image-cache ${f}: expected an OCI image archive named *.tar`);
    if (cached.has(basename(f))) throw new Error(`--image-cache ${f}: a second archive named ${basename(f)} (pause.tar is kiln's own); rename one`);
    cached.add(basename(f));
  }
  if (opts.kubernetes !== undefined) {
    const missing = KUBERNETES_PROGRAMS.filter((p) => !existsSync(join(opts.kubernetes!, p)));
    if (missing.length) throw new Error(`--kubernetes ${opts.kubernetes}: no ${missing.join(", ")} there; build them with 'bash hack/kubernetes.sh', which prints the directory to give`);
  }
  if (opts.overlay !== undefined && !statSync(opts.overlay, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`--overlay ${opts.overlay}: no such directory: give a directory laid out like the image's root`);
  }
}

/** The initramfs, and the kernel, rootfs.sqsh and cmdline next to it. */
function writeBootFiles(opts: ImageOptions, out: (name: string) => string, cache: string, kernel: Kernel, modules: Stage1Modules, sqsh: string, epoch: number): void {
  const how = opts.compress ?? "zstd";
  const parts = [nodeSegment(cache, how, epoch), stage1Segment(kernel, modules, how, epoch), writeCpio([{ path: initramfsPaths.rootfs, type: "file", mode: 0o444, data: readFileSync(sqsh) }], { mtime: epoch })];
  atomicWrite(out("initramfs"), Buffer.concat(parts.map(pad4)));
  copyFileSync(kernel.vmlinuz, `${out("kernel")}.tmp`);
  renameSync(`${out("kernel")}.tmp`, out("kernel"));
  copyFileSync(sqsh, `${out("rootfs.sqsh")}.tmp`);
  renameSync(`${out("rootfs.sqsh")}.tmp`, out("rootfs.sqsh"));
  atomicWrite(out("cmdline"), `${DEFAULT_CMDLINE}\n`);
}

/** The Kubernetes programs to put in /usr/bin, and components.json's record of them. */
export interface KubernetesInImage {
  files: { name: string; source: string }[];
  components: Pick<ImageComponents, "kubernetes" | "kubernetesPrograms">;
}

/** The Kubernetes programs the options name, their version read now, at build time (all must agree). */
export function kubernetesPrograms(opts: ImageOptions): KubernetesInImage {
  const files = opts.kubernetes !== undefined
    ? KUBERNETES_PROGRAMS.map((name) => ({ name, source: join(opts.kubernetes!, name) }))
    : opts.kubelet !== undefined
      ? [{ name: "kubelet", source: opts.kubelet }]
      : [];
  if (files.length === 0) return { files, components: { kubernetes: null, kubernetesPrograms: [] } };
  const versions = files.map((f) => ({ ...f, version: programVersion(f.source) }));
  const distinct = [...new Set(versions.map((v) => v.version))];
  if (distinct.length !== 1) {
    throw new Error(`Kubernetes programs of different versions: ${versions.map((v) => `${v.name} ${v.version}`).join(", ")}; give one build's programs (hack/kubernetes.sh)`);
  }
  return { files, components: { kubernetes: distinct[0]!, kubernetesPrograms: files.map((f) => f.name) } };
}

/** The version a Kubernetes program prints for --version ("v1.20.2"). */
function programVersion(path: string): string {
  let out: string;
  try {
    out = execFileSync(path, ["--version"], { encoding: "utf8", env: {}, timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    throw new Error(`${path} --version: ${(err as Error).message}; is it a Kubernetes program built for this machine?`);
  }
  const v = versionInLine(out);
  if (!v) throw new Error(`${path} --version printed no version (${JSON.stringify(out.trim().slice(0, 80))})`);
  return v;
}

/** The build host's catatonit (Debian's, statically linked): `catatonit -P` is a pause process. */
const hostCatatonit = "/usr/bin/catatonit";

/** The pause image, an OCI archive kiln makes from catatonit, in the cache; its name carries catatonit's version. */
async function pauseImage(epoch: number): Promise<{ name: string; path: string }> {
  if (!existsSync(hostCatatonit)) throw new Error(`image build: ${hostCatatonit} is missing; it is the pause image's program: apt-get install catatonit (hack/setup.sh does)`);
  const printed = execFileSync(hostCatatonit, ["--version"], { encoding: "utf8", env: {}, timeout: 10_000 });
  const version = /(\d+\.\d+\.\d+)_catatonit/.exec(printed)?.[1];
  if (!version) throw new Error(`${hostCatatonit} --version printed no catatonit version (${JSON.stringify(printed.trim())})`);
  const name = pauseImageName(version);
  const { archive } = await ociImageArchive({ name, files: [{ path: "/catatonit", source: hostCatatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch });
  return { name, path: cachedBytes(archive, ".tar") };
}

interface ImageExtras {
  kernel: Kernel;
  modules: string[];
  k8s: KubernetesInImage;
  components: ImageComponents;
  imageCache: { name: string; source: string }[];
  version: string;
}

/** Modules (with modules.dep), the Kubernetes programs, components.json, the image cache and /usr/lib/kiln/VERSION in the rootfs; returns programs needing libraries. */
function addImageExtras(plan: import("./plan.js").PlanBuilder, x: ImageExtras): string[] {
  const at = posix.join(imagePaths.kernelModules, x.kernel.version);
  for (const f of x.modules) plan.file(posix.join(at, relative(x.kernel.modulesDir, f)), f, "stat", 0o644);
  for (const f of ["modules.dep", "modules.builtin"]) plan.file(posix.join(at, f), join(x.kernel.modulesDir, f), "content", 0o644);
  plan.file(imagePaths.version, cachedBytes(`${x.version}\n`), "content", 0o644);
  plan.file(imagePaths.components, cachedBytes(`${JSON.stringify(x.components)}\n`), "content", 0o644);
  for (const f of x.imageCache) plan.file(posix.join(imagePaths.imageCache, f.name), f.source, "stat", 0o644);
  for (const f of x.k8s.files) plan.file(posix.join(imagePaths.bin, f.name), f.source, "stat", 0o755);
  return x.k8s.files.map((f) => f.source);
}

/** A file in the cache holding `data` (named by its hash), for the plan to copy from. */
function cachedBytes(data: string | Buffer, suffix = ""): string {
  const dir = join(cacheRoot(), "versions");
  const file = join(dir, `${sha256(data).slice(0, 16)}${suffix}`);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(file)) writeFileSync(file, data);
  return file;
}

/** Node, its libraries and koffi, compressed; cached, since it is the slow part and rarely changes. */
export function nodeSegment(cache: string, how: Compression, epoch: number): Buffer {
  const nodeModules = join(repoRoot(), "node_modules");
  const koffiNative = join(nodeModules, "@koromix/koffi-linux-x64/linux_x64/koffi.node");
  const libs = resolveLibraries([hostNode, koffiNative], defaultLibDirs);
  if ("error" in libs) throw new Error(`resolving node's libraries: ${libs.error}`);
  const files: { path: string; source: string; mode: number }[] = [
    { path: initramfsPaths.node, source: hostNode, mode: 0o755 },
    ...libs.value.map((l) => ({ path: l.dest, source: l.source, mode: 0o755 })),
    ...koffiFiles.map((f) => ({ path: `/node_modules/koffi/${f}`, source: join(nodeModules, "koffi", f), mode: 0o644 })),
    { path: "/node_modules/koffi/build/koffi/linux_x64/koffi.node", source: koffiNative, mode: 0o644 },
  ];
  const key = sha256(JSON.stringify([how, epoch, files.map((f) => [f.path, f.mode, fileKey(f.source)])]));
  const path = join(cache, "initramfs", `${key}.${how}`);
  if (existsSync(path)) {
    markUsed(join(cache, "initramfs"), basename(path));
    return readFileSync(path);
  }
  const entries: CpioEntry[] = [
    ...Object.entries(mergedUsrLinks).map(([p, target]): CpioEntry => ({ path: p, type: "symlink", target })),
    ...files.map((f): CpioEntry => ({ path: f.path, type: "file", mode: f.mode, data: readFileSync(f.source) })),
  ];
  const data = compress(writeCpio(entries, { mtime: epoch }), how, how === "zstd" ? 10 : undefined);
  mkdirSync(join(cache, "initramfs"), { recursive: true });
  atomicWrite(path, data);
  markUsed(join(cache, "initramfs"), basename(path));
  pruneCache(join(cache, "initramfs"), keptEntries);
  return data;
}

/** Stage 1's two module sets: what mounting the root needs, then the rest of the boot set; each in load order. */
interface Stage1Modules {
  root: string[];
  boot: string[];
}

/** /init (stage 1), the root and boot modules and their load orders, /dev/console. */
function stage1Segment(kernel: Kernel, modules: Stage1Modules, how: Compression, epoch: number): Buffer {
  const init = join(distDir(), "stage1-metal.cjs");
  if (!existsSync(init)) throw new Error(`${init} is missing: run \`npm run build\` first`);
  const at = (f: string) => posix.join(imagePaths.kernelModules, kernel.version, relative(kernel.modulesDir, f));
  const entries: CpioEntry[] = [
    { path: initramfsPaths.init, type: "file", mode: 0o755, data: readFileSync(init) },
    { path: "/dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 },
    { path: initramfsPaths.rootModuleList, type: "file", mode: 0o644, data: `${modules.root.map(at).join("\n")}\n` },
    { path: initramfsPaths.moduleList, type: "file", mode: 0o644, data: `${modules.boot.map(at).join("\n")}\n` },
    ...[...modules.root, ...modules.boot].map((f): CpioEntry => ({ path: at(f), type: "file", mode: 0o644, data: readFileSync(f) })),
  ];
  return compress(writeCpio(entries, { mtime: epoch }), how, how === "zstd" ? 10 : undefined);
}

/**
 * NUL padding to a multiple of 4 bytes. The kernel reads an uncompressed cpio
 * segment only at a 4-byte-aligned offset and skips NULs between segments, so
 * a compressed segment of odd length would hide the one after it.
 */
export function pad4(b: Buffer): Buffer {
  const extra = (4 - (b.length % 4)) % 4;
  return extra ? Buffer.concat([b, Buffer.alloc(extra)]) : b;
}

/** What identifies a host file's content cheaply (package managers replace, not rewrite, files). */
function fileKey(path: string): string {
  const st = statSync(path);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function atomicWrite(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** package.json's version. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version: string }).version;
}


