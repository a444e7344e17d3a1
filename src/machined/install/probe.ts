// The disks of this machine as the kernel lists them in /sys/class/block,
// and what one holds (signatures.ts): enough for the installer to say which
// disk it would write, why it will not, and which disks there are instead.
// Partitions, loop, RAM, optical and zram devices are not disks to install
// to; neither is the install media.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { mountPoints } from "../../machinery/paths.js";
import type { Partition } from "../disks.js";
import { contentOf, type DiskContent, PROBE_BYTES } from "./signatures.js";

/** Where the probe looks: sysfs and /dev (tests point both at a temporary tree). */
export interface Roots {
  sys: string;
  dev: string;
}

/** The machine's own sysfs and /dev. */
export const DEFAULT_ROOTS: Roots = { sys: mountPoints.sys, dev: mountPoints.dev };

/** A whole disk the kernel knows. */
export interface DiskSummary {
  /** Its kernel name: vda, sda, nvme0n1. */
  name: string;
  /** /dev/<name>. */
  device: string;
  sizeBytes: number;
}

/** What machine.install.disk names: a disk and what it holds, or why it is not one. */
export type Probed =
  | { t: "missing" }
  | { t: "partition"; of: string }
  | { t: "disk"; disk: DiskSummary; readOnly: boolean; content: DiskContent };

const NOT_DISKS = /^(loop|ram|sr|zram|nbd|md|dm-)/;

/** Whole disks with a size, by name; `exclude` names devices left out (the install media). */
export function listDisks(roots: Roots = DEFAULT_ROOTS, exclude: string[] = []): DiskSummary[] {
  const dir = join(roots.sys, "class/block");
  if (!existsSync(dir)) return [];
  const skip = new Set(exclude.map((d) => basename(d)));
  return readdirSync(dir)
    .sort()
    .filter((name) => !NOT_DISKS.test(name) && !skip.has(name) && !existsSync(join(dir, name, "partition")))
    .map((name) => ({ name, device: join(roots.dev, name), sizeBytes: sizeOf(roots, name) }))
    .filter((d) => d.sizeBytes > 0);
}

/** "vda (2.0 GiB), vdc (10.0 GiB)", or "none", for messages. */
export function describeDisks(disks: DiskSummary[]): string {
  return disks.length ? disks.map((d) => `${d.name} (${gib(d.sizeBytes)})`).join(", ") : "none";
}

/** What `device` (/dev/vda, /dev/disk/by-id/…) is and holds. */
export function probeDisk(device: string, roots: Roots = DEFAULT_ROOTS): Probed {
  const name = kernelName(device, roots);
  const sysDir = name ? join(roots.sys, "class/block", name) : undefined;
  if (!name || !sysDir || !existsSync(sysDir)) return { t: "missing" };
  if (existsSync(join(sysDir, "partition"))) return { t: "partition", of: parentDisk(sysDir) };
  const disk = { name, device: join(roots.dev, name), sizeBytes: sizeOf(roots, name) };
  const readOnly = readText(join(sysDir, "ro")) === "1";
  return { t: "disk", disk, readOnly, content: contentOf(readHead(disk.device, PROBE_BYTES)) };
}

/** A disk's partitions with their GPT names (PARTNAME), by partition number. */
export function diskPartitions(name: string, roots: Roots = DEFAULT_ROOTS): Partition[] {
  const dir = join(roots.sys, "class/block", name);
  if (!existsSync(dir)) return [];
  const parts: { n: number; p: Partition }[] = [];
  for (const entry of readdirSync(dir)) {
    const n = Number(readText(join(dir, entry, "partition")));
    if (!n) continue;
    const label = /^PARTNAME=(.*)$/m.exec(readText(join(dir, entry, "uevent")))?.[1] ?? "";
    parts.push({ n, p: { name: entry, device: join(roots.dev, entry), label } });
  }
  return parts.sort((a, b) => a.n - b.n).map((x) => x.p);
}

/** The first `len` bytes of a device (fewer when it is smaller). */
export function readHead(device: string, len: number): Buffer {
  const fd = openSync(device, "r");
  try {
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Bytes as GiB with one decimal: "2.0 GiB". */
export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The kernel's name for a device path: a symlink (/dev/disk/by-id/…) resolved, else the path's last part. */
function kernelName(device: string, roots: Roots): string | undefined {
  const path = device.startsWith("/dev/") ? join(roots.dev, device.slice(5)) : device;
  try {
    return basename(realpathSync(path));
  } catch {
    // No node in /dev: the kernel may still know the name (devtmpfs is late), else it is missing.
    const name = basename(device);
    return existsSync(join(roots.sys, "class/block", name)) && !device.startsWith("/dev/disk/") ? name : undefined;
  }
}

/** The whole disk a partition's sysfs directory belongs to, as /dev/<name>. */
function parentDisk(sysDir: string): string {
  try {
    return join("/dev", basename(join(realpathSync(sysDir), "..")));
  } catch {
    return "the whole disk";
  }
}

/** A block device's size from sysfs (512-byte sectors, whatever its sector size). */
function sizeOf(roots: Roots, name: string): number {
  return Number(readText(join(roots.sys, "class/block", name, "size")) || 0) * 512;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}
