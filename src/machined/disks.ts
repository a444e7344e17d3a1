// The machine's own disk on metal: partitions found by their GPT names
// (STATE, EPHEMERAL) as the kernel reports them in sysfs. STATE holds the
// config and identity and is mounted over /system/state; EPHEMERAL holds /var
// (containerd's images, logs, kubelet's data) and is formatted on first boot,
// since disk.raw ships it empty so that it can grow with the disk. Without a
// disk, both stay on the tmpfs the early mounts made.
import { execFileSync } from "node:child_process";
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { imagePaths, mountPoints } from "../machinery/paths.js";
import { MNT, MS, type Sys } from "../sys/sys.js";

/** A partition the kernel knows: /dev/<name>, with its GPT name. */
export interface Partition {
  name: string;
  device: string;
  label: string;
}

/** Where each named partition goes. */
export const DISK_MOUNTS = [
  { label: "STATE", target: mountPoints.state, format: false },
  { label: "EPHEMERAL", target: mountPoints.var, format: true },
] as const;

/** Partitions with a GPT name (PARTNAME in their uevent), sorted by device name. */
export function namedPartitions(sysfs: string = mountPoints.sys, dev: string = mountPoints.dev): Partition[] {
  const dir = join(sysfs, "class/block");
  if (!existsSync(dir)) return [];
  const out: Partition[] = [];
  for (const name of readdirSync(dir).sort()) {
    let uevent: string;
    try {
      uevent = readFileSync(join(dir, name, "uevent"), "utf8");
    } catch {
      continue;
    }
    const label = /^PARTNAME=(.*)$/m.exec(uevent)?.[1];
    if (label) out.push({ name, device: join(dev, name), label });
  }
  return out;
}

/** Whether the device starts with an ext2/3/4 superblock (magic 0xEF53 at byte 1080). */
export function hasExtFilesystem(device: string): boolean {
  const fd = openSync(device, "r");
  try {
    const buf = Buffer.alloc(2);
    readSync(fd, buf, 0, 2, 1080);
    return buf.readUInt16LE(0) === 0xef53;
  } finally {
    closeSync(fd);
  }
}

export interface DiskDeps {
  sys: Sys;
  log(line: string): void;
  partitions?: Partition[];
  /** Formats a device as ext4 with a label (mkfs.ext4 from the image). */
  mkfs?(device: string, label: string): void;
  hasFilesystem?(device: string): boolean;
}

/** What mountDisks did, for the boot's events. */
export interface DiskResult {
  label: string;
  device?: string;
  target: string;
  outcome: "mounted" | "formatted and mounted" | "absent" | "failed";
  error?: string;
}

/**
 * Mounts STATE and EPHEMERAL when this machine's disk has them; a first-boot
 * EPHEMERAL is formatted. A failure is reported and the tmpfs stays (the
 * machine still boots, and says its data is not persisted).
 */
export function mountDisks(d: DiskDeps): DiskResult[] {
  const parts = d.partitions ?? namedPartitions();
  const mkfs = d.mkfs ?? mkfsExt4;
  const has = d.hasFilesystem ?? hasExtFilesystem;
  return DISK_MOUNTS.map(({ label, target, format }): DiskResult => {
    const matches = parts.filter((p) => p.label === label);
    if (matches.length === 0) return { label, target, outcome: "absent" };
    const part = matches[0]!;
    try {
      if (matches.length > 1) d.log(`disks: ${matches.length} partitions named ${label} (${matches.map((m) => m.device).join(", ")}); using ${part.device}`);
      let formatted = false;
      if (!has(part.device)) {
        if (!format) throw new Error(`${part.device} (${label}) has no ext4 filesystem; it is made by the image builder or the installer`);
        d.log(`disks: formatting ${part.device} (${label}) as ext4: first boot`);
        mkfs(part.device, label);
        formatted = true;
      }
      d.sys.mount(part.device, target, "ext4", MS.NOSUID | MS.NODEV | MS.NOATIME, undefined);
      d.log(`disks: ${part.device} (${label}) on ${target}`);
      return { label, device: part.device, target, outcome: formatted ? "formatted and mounted" : "mounted" };
    } catch (err) {
      const error = (err as Error).message;
      d.log(`disks: ${label}: ${error}; ${target} stays in memory and is lost at reboot`);
      return { label, device: part.device, target, outcome: "failed", error };
    }
  });
}

/** mkfs.ext4 from the image: quiet, labelled, no lazy-init stalls at first boot. */
export function mkfsExt4(device: string, label: string): void {
  execFileSync(imagePaths.mkfsExt4, ["-q", "-F", "-L", label, "-E", "lazy_itable_init=1,lazy_journal_init=1", device], { stdio: ["ignore", "ignore", "pipe"] });
}

/** How a partition is mounted for a moment. */
export interface MomentMount {
  device: string;
  dir: string;
  fstype: string;
  flags: number;
  data?: string;
  /** umount2 flags (default MNT.DETACH; 0 to flush a file system written to before going on). */
  umountFlags?: number;
  log?(line: string): void;
}

/** Mounts a partition at `m.dir` (made when missing), runs `fn` (sync or async), then unmounts it, logging an unmount failure. */
export function withMount<T>(sys: Sys, m: MomentMount, fn: (dir: string) => T): T {
  mkdirSync(m.dir, { recursive: true });
  sys.mount(m.device, m.dir, m.fstype, m.flags, m.data);
  const release = () => {
    try {
      sys.umount2(m.dir, m.umountFlags ?? MNT.DETACH);
    } catch (err) {
      m.log?.(`unmounting ${m.dir}: ${(err as Error).message}`);
    }
  };
  let out: T;
  try {
    out = fn(m.dir);
  } catch (err) {
    release();
    throw err;
  }
  if (out instanceof Promise) return out.finally(release) as T;
  release();
  return out;
}

/** Read-only, no devices, setuid or programs: how a slot or the ESP is looked at. */
export const RO_MOUNT = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;

/** Zeroes a device's first `bytes` (default 4 MiB: superblocks and more); O_EXCL refuses a device still mounted (EBUSY). */
export function blankStart(device: string, bytes = 4 << 20): void {
  const fd = openSync(device, constants.O_WRONLY | constants.O_EXCL);
  try {
    const zeros = Buffer.alloc(1 << 20);
    for (let at = 0; at < bytes; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
