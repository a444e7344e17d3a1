// The disk's first bytes and its partition table, as the installer writes
// them: disk-head.img (the builder's boot loader, checked), kiln's GPT for
// the disk's own size over the one the head brings, then the kernel told to
// re-read the table, and a wait for the partitions' devices to appear.
import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { diskLayout, type Partition as LayoutPartition, partition, SECTOR } from "../../machinery/disk-layout.js";
import type { Sys } from "../../sys/sys.js";
import type { Partition } from "../disks.js";
import { gptWrites } from "./gpt.js";
import { type DiskSummary, diskPartitions, type Roots } from "./probe.js";
import { contentOf, type DiskContent } from "./signatures.js";
import { InstallError } from "./source.js";

/** The partitions the installer waits for, in table order. */
const PARTITIONS = ["BIOS", "EFI", "BOOT-A", "BOOT-B", "STATE", "EPHEMERAL"];
const MiB = 1 << 20;

/** disk-head.img, checked: the size of everything before BOOT-A, starting with kiln's GPT. */
export function readDiskHead(path: string): Buffer {
  const want = partition(diskLayout(), "BOOT-A").start * SECTOR;
  if (!existsSync(path)) throw new InstallError(`${path} is missing: this image cannot install itself (its boot loader is not in it); build the image with a kilnctl that writes it`);
  const size = statSync(path).size;
  if (size !== want) throw new InstallError(`${path} is ${size} bytes, expected ${want} (everything before BOOT-A): the image is damaged; rebuild it`);
  const head = readFileSync(path);
  if (contentOf(head.subarray(0, MiB)).t !== "kiln") throw new InstallError(`${path} does not start with kiln's GPT: the image is damaged; rebuild it`);
  return head;
}

/** Wipes when asked, writes disk-head.img and the GPT for the disk's size; O_EXCL refuses a disk in use. */
export function writeTable(disk: DiskSummary, head: Buffer, content: DiskContent, step: (m: string) => void): LayoutPartition[] {
  const fd = openSync(disk.device, constants.O_WRONLY | constants.O_EXCL);
  try {
    if (content.t === "foreign") {
      const zeros = Buffer.alloc(MiB);
      writeSync(fd, zeros, 0, MiB, 0);
      writeSync(fd, zeros, 0, MiB, disk.sizeBytes - MiB);
      step(`wiped ${disk.device} (${content.what}): its first and last MiB are zeros`);
    }
    for (let at = 0; at < head.length; at += MiB) writeSync(fd, head, at, Math.min(MiB, head.length - at), at);
    const { layout, writes } = gptWrites(disk.sizeBytes);
    for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
    fsyncSync(fd);
    step(`boot loader and partition table written: ${layout.map((x) => x.name).join(", ")}`);
    return layout;
  } finally {
    closeSync(fd);
  }
}

/** BLKRRPART: the kernel reads the new table and makes the partitions' devices. */
const BLKRRPART = 0x125f;

/** Tells the kernel to re-read the disk's partition table (an fd without O_EXCL: the kernel claims the disk itself). */
export function reread(sys: Sys, device: string): void {
  const fd = openSync(device, "r");
  try {
    sys.ioctl(fd, BLKRRPART, 0);
  } catch (err) {
    throw new Error(`the kernel would not re-read ${device}'s partition table (a partition may be in use): ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/** Polls sysfs and /dev until the disk shows kiln's six partitions with their names. */
export async function waitForPartitions(disk: DiskSummary, roots: Roots, ms: number): Promise<Partition[]> {
  const until = Date.now() + ms;
  for (;;) {
    const parts = diskPartitions(disk.name, roots);
    const ready = PARTITIONS.every((l) => parts.some((x) => x.label === l && existsSync(x.device)));
    if (ready) return parts;
    if (Date.now() > until) {
      const seen = parts.map((x) => `${x.name}=${x.label || "?"}`).join(", ") || "none";
      throw new Error(`the new partitions of ${disk.device} did not appear within ${ms / 1000} s (seen: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
