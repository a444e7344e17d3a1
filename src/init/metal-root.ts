// Stage 1 on a real kernel: runs as /init from the initramfs (PID 1). Mounts
// the kernel filesystems, loads the modules the root needs, starts loading
// the rest of the boot set on a worker thread, loop-mounts the read-only
// rootfs.sqsh, frees the initramfs and moves the new root over /. It then
// hands over to /sbin/init (machined) in this same process (stage1-metal.ts):
// machined's bundle loads while the kernel verifies the boot modules. Takes a
// Sys so tests can record the sequence.
import { existsSync, lstatSync, readFileSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { imagePaths, initramfsPaths, mountPoints } from "../machinery/paths.js";
import { MNT, MS, type Sys } from "../sys/sys.js";
import { attachLoop } from "./loop.js";
import { loaderInPlace, type ModuleLoader } from "./boot-modules-worker.js";
import { loadModules, type ModuleResult, openModules, summarizeModules } from "./modules.js";
import { describeError, initEnv } from "./sandbox-root.js";

export interface MetalStage1Options {
  sys: Sys;
  log(line: string): void;
  /** process.chdir unless a test says otherwise. */
  chdir?(dir: string): void;
  /** Root of the initramfs (tests use a scratch directory); "/" for real. */
  root?: string;
  env: NodeJS.ProcessEnv;
  /** What loads the boot set, started first thing (stage1-metal.ts: a worker thread); default: this thread, in turn. */
  bootModuleLoader?(): ModuleLoader;
}

/** How long stage 1 waits for the module loader to hold what it needs of the initramfs. */
const loaderStartMs = 10_000;

const SAFE = MS.NOSUID | MS.NODEV | MS.NOEXEC;

/** What stage 1 leaves for machined, which runs next in this process. */
export interface MetalHandoff {
  /** /sbin/init, in the new root (now /). */
  init: string;
  /** machined's environment, as "NAME=value". */
  env: string[];
  /** The boot set, maybe still loading; never rejects. */
  bootModules: Promise<ModuleResult[]>;
}

/** Sets up the root and returns what machined needs; a failure throws, naming the step. */
export function stage1Metal(o: MetalStage1Options): MetalHandoff {
  const chdir = o.chdir ?? process.chdir;
  const at = (p: string) => join(o.root ?? "/", p);
  const step = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      throw new Error(what, { cause });
    }
  };
  step("checking we are PID 1", () => {
    const pid = o.sys.getpid();
    if (pid !== 1) throw new Error(`running as pid ${pid}: /init is meant to be started by the kernel`);
  });
  for (const [fs, dir] of [["proc", "/proc"], ["sysfs", "/sys"], ["devtmpfs", "/dev"]] as const) {
    step(`mounting ${dir}`, () => {
      if (!existsSync(at(dir))) o.sys.mkdir(at(dir), 0o755);
      o.sys.mount(fs, at(dir), fs, fs === "devtmpfs" ? MS.NOSUID : SAFE, fs === "devtmpfs" ? "mode=0755" : undefined);
    });
  }
  const loader = step("starting the boot modules' loader", () => (o.bootModuleLoader ?? (() => loaderInPlace(o.sys)))());
  const results = step("loading the root's modules", () => loadModules(o.sys, moduleList(at(initramfsPaths.rootModuleList))));
  o.log(summarizeModules("stage1: root modules", results));
  // Opened now: their files go with the initramfs before the last one loads.
  const opened = step("opening the boot modules", () => openModules(moduleList(at(initramfsPaths.moduleList))));
  loader.load(opened);
  const loop = step(`attaching ${initramfsPaths.rootfs} to a loop device`, () => attachLoop(o.sys, at(initramfsPaths.rootfs), at(mountPoints.dev)));
  const newRoot = at(initramfsPaths.newRoot);
  step(`mounting ${loop} (squashfs) on ${initramfsPaths.newRoot}`, () => {
    if (!existsSync(newRoot)) o.sys.mkdir(newRoot, 0o755);
    o.sys.mount(loop, newRoot, "squashfs", MS.RDONLY | MS.NODEV, undefined);
  });
  // node is in memory already (stage 1 runs it) and paged in: machined and apid
  // run that copy rather than page the squashfs one in through the decompressor.
  step(`binding the initramfs's ${initramfsPaths.node} over the new root's`, () => {
    o.sys.mount(at(initramfsPaths.node), join(newRoot, initramfsPaths.node), null, MS.BIND, undefined);
    o.sys.mount(at(initramfsPaths.node), join(newRoot, initramfsPaths.node), null, MS.REMOUNT | MS.BIND | MS.RDONLY, undefined);
  });
  step(`checking ${imagePaths.init} in the new root`, () => {
    // lstat: /sbin/init is an absolute link, only meaningful inside the new root
    if (!lstatSync(join(newRoot, imagePaths.init), { throwIfNoEntry: false })) throw new Error(`rootfs.sqsh has no ${imagePaths.init}: rebuild the image`);
  });
  // machined mounts its own /proc, /sys and /dev on the new root.
  for (const dir of ["/proc", "/sys", "/dev"]) step(`detaching ${dir}`, () => o.sys.umount2(at(dir), MNT.DETACH));
  if (!loader.started(loaderStartMs)) o.log(`stage1: the boot modules' worker did not start in ${loaderStartMs / 1000} s; machined's thread loads them`);
  const freed = step("freeing the initramfs", () => freeInitramfs(at("/"), [newRoot, at(initramfsPaths.node)]));
  o.log(`stage1: freed ${(freed / 2 ** 20).toFixed(1)} MiB of initramfs`);
  step(`moving ${initramfsPaths.newRoot} over /`, () => {
    chdir(newRoot);
    o.sys.mount(".", "/", null, MS.MOVE, undefined);
    o.sys.chroot(".");
    chdir("/");
  });
  return { init: imagePaths.init, env: metalEnv(o.env), bootModules: loader.done };
}

/** The module list the builder wrote (missing: none). */
function moduleList(file: string): { file: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((file) => ({ file }));
}

/**
 * Deletes the initramfs's files (its memory is not freed otherwise), staying
 * on its filesystem: the new root and anything else mounted is left alone.
 * rootfs.sqsh stays in memory while the loop device holds it; `keep` (the
 * new root, node) stays. Returns bytes freed.
 */
export function freeInitramfs(root: string, keep: string[]): number {
  const dev = lstatSync(root).dev;
  let bytes = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (keep.includes(p) || st.dev !== dev) continue;
      if (st.isDirectory()) {
        walk(p);
        try {
          rmdirSync(p);
        } catch {
          // a mount point or a directory holding one: leave it
        }
      } else {
        bytes += st.size;
        unlinkSync(p);
      }
    }
  };
  walk(root);
  return bytes;
}

/** The environment for machined: the kernel's, a PATH when it gave none, and KILN_PLATFORM=metal. */
export function metalEnv(env: NodeJS.ProcessEnv): string[] {
  return initEnv(env, "metal", { PATH: "/usr/bin:/usr/sbin" });
}

export { describeError };
