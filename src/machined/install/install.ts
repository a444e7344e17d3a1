// The installer: a machine booted from kernel+initramfs (or install media)
// whose config names machine.install.disk writes kiln to that disk and
// kexecs into it. plan() decides, reading only: the disk must exist, be big
// enough and be blank or kiln's, unless machine.install.wipe says to erase
// what is there; and there must be a bundle to install. run() writes:
//
//   unpack the bundle (URL or media) into /run, checked
//   wipe: zero the disk's first and last MiB
//   disk-head.img at 0: protective MBR with GRUB, BIOS boot, ESP (GRUB, grubenv)
//   kiln's GPT for the disk's real size; the kernel re-reads it (partition-table.ts)
//   BOOT-B and STATE: empty ext4; EPHEMERAL: its start zeroed (first boot formats it)
//   STATE: config.yaml and config.good.yaml
//   BOOT-A: the bundle's files, read back — last, so a BOOT-A holding
//           manifest.json means the whole disk was written
//   stage slot A's kernel for kexec: the caller reboots into it
//
// A disk that is kiln's with a BOOT-A holding manifest.json is installed
// already: plan() says "boot", and run() only stages its committed slot.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import { MIN_DISK_MIB, partition, SECTOR } from "../../machinery/disk-layout.js";
import { imagePaths, kernelPaths, machinedPaths } from "../../machinery/paths.js";
import { type BundleInfo, extractBundle } from "../../machinery/upgrade-bundle.js";
import { MNT, MS, type Sys } from "../../sys/sys.js";
import { createConfigStore } from "../config-store.js";
import { blankStart, mkfsExt4, type Partition, RO_MOUNT, withMount } from "../disks.js";
import type { EventBus } from "../events.js";
import { type KexecPrepared, type KexecTarget, prepareKexec } from "../kexec.js";
import type { PlatformName } from "../../machinery/platform.js";
import { slotFromCmdline } from "../slots.js";
import { espGrubenv } from "../upgrade/grubenv-file.js";
import { writeSlot } from "../upgrade/slot-writer.js";
import { readDiskHead, reread, waitForPartitions, writeTable } from "./partition-table.js";
import { DEFAULT_ROOTS, type DiskSummary, describeDisks, diskPartitions, gib, listDisks, probeDisk, type Roots } from "./probe.js";
import type { DiskContent } from "./signatures.js";
import { describeSource, extractSource, findMedia, findSource, InstallError, type InstallSource } from "./source.js";

/** Where the image keeps the boot loader's part of disk.raw. */
export const DISK_HEAD = imagePaths.diskHead;
const MiB = 1 << 20;

/** What machine.install asks of this machine now. */
export type InstallPlan =
  | { t: "none" }
  | { t: "boot"; disk: DiskSummary; partitions: Partition[]; slot: "A" | "B" }
  | { t: "install"; disk: DiskSummary; content: DiskContent; source: InstallSource };

/** Installs kiln to machine.install.disk: decides first, then writes. */
export interface Installer {
  /** Decides from the config and the disks, writing nothing; InstallError (problem and fix) when it cannot install. */
  plan(config: MachineConfig): Promise<InstallPlan>;
  /** Writes the disk when the plan says "install", then stages the slot to boot; the caller reboots (kexec when ok). */
  run(plan: Exclude<InstallPlan, { t: "none" }>, yaml: string): Promise<KexecPrepared>;
}

/** What the installer works with; tests replace the disks' roots, the tools and kexec. */
export interface InstallerDeps {
  sys: Sys;
  log(line: string): void;
  events: Pick<EventBus, "publish">;
  roots?: Roots;
  /** The boot loader's bytes (default DISK_HEAD). */
  diskHead?: string;
  /** Scratch space in memory: the bundle is unpacked and partitions mounted under it (default /run/kiln-install). */
  workDir?: string;
  extract?(tar: NodeJS.ReadableStream, dir: string): Promise<BundleInfo>;
  fetch?: typeof globalThis.fetch;
  writeSlot?(device: string, label: string, bundle: BundleInfo): Promise<void>;
  mkfs?(device: string, label: string): void;
  prepareKexec?(partitions: Partition[], target: KexecTarget): Promise<KexecPrepared>;
  /** The slot the disk's grubenv commits (default: read from its ESP; A when it cannot be read). */
  committedSlot?(partitions: Partition[]): "A" | "B";
  /** /proc/self/mounts, for partitions of the disk still mounted. */
  mounts?(): string;
  /** How long to wait for the kernel to show the new partitions (default 10 s). */
  partitionWaitMs?: number;
}

/** The installer for this boot: on metal booted without its disk (no kiln.slot on the kernel command line); undefined otherwise. */
export function installerForBoot(platform: PlatformName, d: InstallerDeps, cmdline = readFileSync(kernelPaths.cmdline, "utf8")): Installer | undefined {
  return platform === "metal" && !slotFromCmdline(cmdline).slot ? createInstaller(d) : undefined;
}

/** The installer over the real disks, mkfs.ext4, kexec and the ESP's grubenv, unless the deps say otherwise. */
export function createInstaller(d: InstallerDeps): Installer {
  const roots = d.roots ?? DEFAULT_ROOTS;
  const work = d.workDir ?? machinedPaths.installWork;
  const step = (message: string) => {
    d.log(`install: ${message}`);
    d.events.publish({ t: "machine", stage: "booting", message: `install: ${message}` });
  };
  const kexec = (parts: Partition[], slot: "A" | "B") =>
    d.prepareKexec ? d.prepareKexec(parts, { slot, boot: "committed" }) : prepareKexec({ sys: d.sys, log: d.log, partitions: parts }, { slot, boot: "committed" });
  return {
    plan: async (config) => plan(d, roots, work, config),
    run: async (p, yaml) => {
      if (p.t === "boot") {
        step(`kiln is already installed on ${p.disk.device}; booting it (slot ${p.slot})`);
        return kexec(p.partitions, p.slot);
      }
      const parts = await install(d, roots, work, p, yaml, step);
      step(`staging slot A's kernel to boot ${p.disk.device} by kexec`);
      return kexec(parts, "A");
    },
  };
}

/** The plan for `config`: none without machine.install.disk; InstallError when the disk or the source will not do. */
async function plan(d: InstallerDeps, roots: Roots, work: string, config: MachineConfig): Promise<InstallPlan> {
  const want = config.machine.install?.disk;
  if (!want) return { t: "none" };
  const media = findMedia(roots);
  const others = () => describeDisks(listDisks(roots, media ? [media] : []));
  const refuse = (why: string) => new InstallError(`machine.install.disk: ${want} ${why}`);
  const p = probeDisk(want, roots);
  if (p.t === "missing") throw refuse(`does not exist; disks here: ${others()}`);
  if (p.t === "partition") throw refuse(`is a partition; name the whole disk (${p.of})`);
  if (media && p.disk.device === media) throw refuse(`is the install media (it holds the kiln-upgrade.tar to install); name another disk (disks here: ${others()})`);
  if (p.readOnly) throw refuse(`is read-only; name another disk (disks here: ${others()})`);
  if (p.disk.sizeBytes < MIN_DISK_MIB * MiB) throw refuse(`has ${gib(p.disk.sizeBytes)}; kiln needs at least ${MIN_DISK_MIB} MiB: name a larger disk (disks here: ${others()})`);
  if (p.content.t === "kiln") {
    const partitions = diskPartitions(p.disk.name, roots);
    if (slotHolds(d, partitions, "BOOT-A", join(work, "check"))) return { t: "boot", disk: p.disk, partitions, slot: committed(d, partitions, work) };
  }
  if (p.content.t === "foreign" && !config.machine.install?.wipe) {
    throw refuse(`holds ${p.content.what} that kiln did not make; set machine.install.wipe: true to erase the whole disk, or name another disk (disks here: ${others()})`);
  }
  return { t: "install", disk: p.disk, content: p.content, source: findSource(config, roots) };
}

/** Writes the whole disk; returns its partitions. */
async function install(d: InstallerDeps, roots: Roots, work: string, p: Extract<InstallPlan, { t: "install" }>, yaml: string, step: (m: string) => void): Promise<Partition[]> {
  const { disk } = p;
  step(`installing kiln to ${disk.device} (${gib(disk.sizeBytes)}) from ${describeSource(p.source)}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "bundle"), { recursive: true, mode: 0o700 });
  try {
    const bundle = await extractSource({ roots, ...(d.fetch ? { fetch: d.fetch } : {}), extract: d.extract ?? extractBundle }, p.source, join(work, "bundle"));
    step(`kiln ${bundle.version}: the bundle's checksums match`);
    releaseMounts(d, roots, disk);
    const head = readDiskHead(d.diskHead ?? DISK_HEAD);
    const layout = writeTable(disk, head, p.content, step);
    reread(d.sys, disk.device);
    const parts = await waitForPartitions(disk, roots, d.partitionWaitMs ?? 10_000);
    const dev = (label: string) => parts.find((x) => x.label === label)!.device;
    const mkfs = d.mkfs ?? mkfsExt4;
    for (const label of ["BOOT-B", "STATE"]) mkfs(dev(label), label);
    blankStart(dev("EPHEMERAL"));
    step(`BOOT-B and STATE made empty; EPHEMERAL (${gib(partition(layout, "EPHEMERAL").size * SECTOR)}) is formatted at the first boot`);
    saveConfig(d, dev("STATE"), join(work, "state"), yaml);
    step("the config is on STATE");
    await (d.writeSlot ?? ((device, label, b) => writeSlot({ sys: d.sys, log: d.log, mountDir: join(work, "check") }, device, label, b)))(dev("BOOT-A"), "BOOT-A", bundle);
    d.sys.sync();
    step(`kiln ${bundle.version} installed on ${disk.device}: slot A written and read back`);
    return parts;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Detaches any mount of the disk's partitions (an earlier, interrupted install's STATE or /var), then syncs. */
function releaseMounts(d: InstallerDeps, roots: Roots, disk: DiskSummary): void {
  const table = d.mounts ? d.mounts() : readFileSync("/proc/self/mounts", "utf8");
  const ours = new Set(diskPartitions(disk.name, roots).map((x) => x.device));
  for (const line of table.split("\n")) {
    const [source, target] = line.split(" ");
    if (!source || !target || !ours.has(source)) continue;
    d.log(`install: unmounting ${source} from ${target}: the disk is about to be written`);
    d.sys.umount2(target.replaceAll("\\040", " "), MNT.DETACH);
  }
  d.sys.sync();
}

/** Mounts STATE, saves the config as ApplyConfiguration would (config.yaml and config.good.yaml), unmounts. */
function saveConfig(d: InstallerDeps, device: string, dir: string, yaml: string): void {
  withMount(d.sys, { device, dir, fstype: "ext4", flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME, umountFlags: 0, log: d.log }, (at) => createConfigStore(at).save(yaml));
}

/** Whether a slot's partition holds manifest.json (mounted read-only for a moment). */
function slotHolds(d: InstallerDeps, parts: Partition[], label: string, dir: string): boolean {
  const part = parts.find((x) => x.label === label);
  if (!part) return false;
  try {
    return withMount(d.sys, { device: part.device, dir, fstype: "ext4", flags: RO_MOUNT, log: d.log }, (at) => existsSync(join(at, "manifest.json")));
  } catch {
    return false;
  }
}

/** The slot the disk boots by default: grubenv's kiln_slot when it holds kiln, else A. */
function committed(d: InstallerDeps, parts: Partition[], work: string): "A" | "B" {
  if (d.committedSlot) return d.committedSlot(parts);
  try {
    const slot = espGrubenv({ sys: d.sys, partitions: parts, log: d.log, mountDir: join(work, "esp") }).read().kiln_slot;
    if (slot === "B" && slotHolds(d, parts, "BOOT-B", join(work, "check"))) return "B";
  } catch (err) {
    d.log(`install: reading the disk's grubenv: ${(err as Error).message}; booting slot A`);
  }
  return "A";
}
