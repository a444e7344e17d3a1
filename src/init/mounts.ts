// The early mounts, as a flat table: one line a mount (or the directory,
// device node or link it needs), each marked fatal, log or silent.
// mountAll runs a table through a Sys.
import { mountPoints } from "../machinery/paths.js";
import type { PlatformName } from "../machinery/platform.js";
import { MNT, MS, S_IFCHR, type Sys, makedev } from "../sys/sys.js";

/** fatal: stop the boot; log: report and go on; silent: go on. */
export type OnError = "fatal" | "log" | "silent";

export type MountStep =
  | { t: "mount"; source: string; target: string; fstype: string | null; flags: number; data?: string; on: OnError }
  | { t: "mkdir"; path: string; mode: number; on: OnError }
  | { t: "mknod"; path: string; mode: number; major: number; minor: number; on: OnError }
  | { t: "symlink"; target: string; path: string; on: OnError }
  | { t: "umount"; target: string; flags: number; on: OnError };

/** Directories the read-only image must contain for the table to mount on. */
export const IMAGE_MOUNT_POINTS: string[] = [
  ...[mountPoints.proc, mountPoints.sys, mountPoints.dev, mountPoints.run, mountPoints.tmp],
  ...[mountPoints.system, mountPoints.etc, mountPoints.var, mountPoints.platformVolume],
];

/** Where sandbox's provisioner binds the platform volume before exec'ing us. */
export const PLATFORM_VOLUME = mountPoints.platformVolume;

const SAFE = MS.NOSUID | MS.NODEV | MS.NOEXEC;
const NOSUID_NODEV = MS.NOSUID | MS.NODEV;
const ETC_OVERLAY = mountPoints.etcOverlay;
const STATE = mountPoints.state;

// Tiny constructors, so each table line reads like fstab.
const mount = (source: string, target: string, fstype: string | null, flags: number, data?: string, on: OnError = "fatal"): MountStep =>
  ({ t: "mount", source, target, fstype, flags, on, ...(data === undefined ? {} : { data }) });
const mkdir = (path: string, mode: number, on: OnError = "fatal"): MountStep => ({ t: "mkdir", path, mode, on });
const chr = (path: string, major: number, minor: number, mode = 0o666, on: OnError = "fatal"): MountStep => ({ t: "mknod", path, mode, major, minor, on });
const link = (target: string, path: string, on: OnError = "fatal"): MountStep => ({ t: "symlink", target, path, on });
const detach = (target: string, on: OnError = "fatal"): MountStep => ({ t: "umount", target, flags: MNT.DETACH, on });

/** The whole early-mount table for a platform, in order. */
export function mountTable(platform: PlatformName): MountStep[] {
  return [
    mount("proc", "/proc", "proc", SAFE),
    mount("sysfs", "/sys", "sysfs", SAFE),
    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", SAFE, "nsdelegate"),
    ...devTable(platform),
    mount("tmpfs", "/run", "tmpfs", NOSUID_NODEV, "mode=0755"),
    mount("tmpfs", "/tmp", "tmpfs", NOSUID_NODEV, "mode=1777"),
    mount("tmpfs", mountPoints.system, "tmpfs", NOSUID_NODEV, "mode=0755"),
    mkdir(mountPoints.overlays, 0o755),
    mkdir(ETC_OVERLAY, 0o755),
    mkdir(`${ETC_OVERLAY}/upper`, 0o755),
    mkdir(`${ETC_OVERLAY}/work`, 0o700),
    mount("overlay", "/etc", "overlay", NOSUID_NODEV, `lowerdir=/etc,upperdir=${ETC_OVERLAY}/upper,workdir=${ETC_OVERLAY}/work`),
    mount("tmpfs", "/var", "tmpfs", NOSUID_NODEV, "mode=0755"), // until disks exist
    mkdir(STATE, 0o700),
    ...stateTable(platform),
    mount("none", "/", null, MS.REC | MS.SHARED, undefined, "log"), // kubelet wants mount propagation
  ];
}

/** /dev: devtmpfs on metal; on sandbox a tmpfs with the few nodes services need. */
function devTable(platform: PlatformName): MountStep[] {
  const sandbox = platform === "sandbox";
  return [
    ...(sandbox
      ? [
          mount("tmpfs", "/dev", "tmpfs", MS.NOSUID | MS.NOEXEC, "mode=0755"),
          chr("/dev/null", 1, 3),
          chr("/dev/zero", 1, 5),
          chr("/dev/full", 1, 7),
          chr("/dev/random", 1, 8),
          chr("/dev/urandom", 1, 9),
          chr("/dev/tty", 5, 0),
          // The host's kernel log, for the Dmesg API. Reading /dev/kmsg consumes nothing
          // (each open has its own cursor); read-only, and optional: without it Dmesg
          // answers FAILED_PRECONDITION.
          chr("/dev/kmsg", 1, 11, 0o444, "log"),
        ]
      : [mount("devtmpfs", "/dev", "devtmpfs", MS.NOSUID | MS.NOEXEC, "mode=0755")]),
    link("/proc/self/fd", "/dev/fd"),
    link("/proc/self/fd/0", "/dev/stdin"),
    link("/proc/self/fd/1", "/dev/stdout"),
    link("/proc/self/fd/2", "/dev/stderr"),
    mkdir("/dev/pts", 0o755),
    mount("devpts", "/dev/pts", "devpts", MS.NOSUID | MS.NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
    link("pts/ptmx", "/dev/ptmx", sandbox ? "fatal" : "silent"), // devtmpfs has a ptmx node already
    mkdir("/dev/shm", 0o1777),
    mount("shm", "/dev/shm", "tmpfs", NOSUID_NODEV, "mode=1777"),
  ];
}

/** /system/state: the platform volume's state directory on sandbox; a tmpfs on metal without a disk. */
function stateTable(platform: PlatformName): MountStep[] {
  if (platform === "metal") return [mount("tmpfs", STATE, "tmpfs", SAFE, "mode=0700")];
  return [mount(`${PLATFORM_VOLUME}/state`, STATE, null, MS.BIND | MS.REC), detach(PLATFORM_VOLUME)];
}

/** Filesystems whose contents we create ourselves. */
const WRITABLE_FSTYPES = new Set(["tmpfs", "devtmpfs"]);

/** Problems with a table: anything it would create outside a tmpfs it mounted first. */
export function checkTable(table: MountStep[]): string[] {
  const ours: string[] = [];
  const problems: string[] = [];
  for (const step of table) {
    if (step.t === "mount" && step.fstype && WRITABLE_FSTYPES.has(step.fstype)) ours.push(step.target);
    const created = step.t === "mkdir" || step.t === "mknod" || step.t === "symlink" ? step.path : undefined;
    if (created && !ours.some((root) => created.startsWith(`${root}/`))) {
      problems.push(`${describeStep(step)}: not on a tmpfs this table mounted (the image is read-only)`);
    }
  }
  return problems;
}

/** Runs a table: each step, its failure handled as the step says. Throws on a fatal one. */
export function mountAll(sys: Sys, table: MountStep[], log: (line: string) => void): void {
  const problems = checkTable(table);
  if (problems.length) throw new Error(`bad mount table: ${problems.join("; ")}`);
  const umask = process.umask(0); // modes in the table are exact
  try {
    for (const step of table) runStep(sys, step, log);
  } finally {
    process.umask(umask);
  }
}

/** One step; a failure is thrown, logged or dropped. */
function runStep(sys: Sys, step: MountStep, log: (line: string) => void): void {
  try {
    doStep(sys, step);
  } catch (cause) {
    if (step.on === "fatal") throw new Error(describeStep(step), { cause });
    if (step.on === "log") log(`${describeStep(step)} failed: ${(cause as Error).message}`);
  }
}

/** The syscall a step stands for. */
function doStep(sys: Sys, s: MountStep): void {
  if (s.t === "mount") sys.mount(s.source, s.target, s.fstype, s.flags, s.data);
  else if (s.t === "mkdir") sys.mkdir(s.path, s.mode);
  else if (s.t === "mknod") sys.mknod(s.path, S_IFCHR | s.mode, makedev(s.major, s.minor));
  else if (s.t === "symlink") sys.symlink(s.target, s.path);
  else sys.umount2(s.target, s.flags);
}

/** What a step does, for errors and logs. */
export function describeStep(s: MountStep): string {
  if (s.t === "mount") return `mounting ${s.target}${s.fstype ? ` (${s.fstype})` : ""}`;
  if (s.t === "mkdir") return `creating directory ${s.path}`;
  if (s.t === "mknod") return `creating device ${s.path}`;
  if (s.t === "symlink") return `linking ${s.path} -> ${s.target}`;
  return `detaching ${s.target}`;
}
