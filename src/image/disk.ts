// disk.raw: a ready-to-boot GPT disk image (layout in src/machinery/disk-layout.ts), made
// without root, loop devices or mounts, in two parts:
//   - the head (buildDiskHead): everything before BOOT-A, i.e. the protective
//     MBR with GRUB's boot.img code, the primary GPT, the BIOS boot partition
//     with core.img and the ESP. It does not depend on the image, so the
//     builder makes it first and also ships it in the rootfs
//     (/usr/lib/kiln/boot/disk-head.img) for a machine to install itself;
//   - the disk (buildDisk): the head, then BOOT-A filled from a slot's files,
//     BOOT-B and STATE empty, and the backup GPT; so disk.raw's first bytes
//     are disk-head.img's, byte for byte.
// sfdisk writes the table into a sparse file, mkfs.ext4 -d fills BOOT-A from
// a staged directory straight into its partition (-E offset), mkfs.fat +
// mcopy make the ESP as a separate image that is copied in, grub-mkimage
// makes BOOTX64.EFI and the BIOS core.img (every module built in, so the ESP
// holds no modules), and bios-boot.ts writes the MBR code and core.img.
//
// Reproducible: fixed GUIDs, hash seeds and volume ids; e2fsprogs's times
// from $E2FSPROGS_FAKE_TIME (it ignores SOURCE_DATE_EPOCH), the features
// from our own mke2fs.conf; FAT times at the epoch (no earlier than 1980,
// which FAT cannot store) in UTC, directories created by mcopy one entry at
// a time so host readdir order does not matter. mkfs.ext4 -d copies owners
// and ctimes (which cannot be set), so debugfs rewrites them afterwards: a
// build as any user gives the same bytes.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diskLayout, MIN_DISK_MIB, type Partition, partition, SECTOR } from "../machinery/disk-layout.js";
import { grubCfg, initialGrubenv, slotCmdlineEnv } from "../machinery/grub.js";
import { patchMbr, placeCore } from "./bios-boot.js";
import { type DiskTools, diskTools } from "./grub-tools.js";
import { checkTable, sfdiskScript } from "./sfdisk.js";

export interface SlotFiles {
  /** Paths of the files a slot boots from. */
  kernel: string;
  initramfs: string;
  manifest: string;
  /** A file holding the kernel command line (without kiln.slot/kiln.boot). */
  cmdline: string;
}

export interface DiskHeadOptions {
  outFile: string;
  /** The command line grub.cfg falls back to when a slot's cmdline.grubenv is unreadable. */
  cmdline: string;
  /** Every timestamp in the ESP. */
  epoch: number;
  /** The disk size the primary GPT describes (default and minimum: MIN_DISK_MIB). */
  sizeMiB?: number;
}

export interface DiskOptions {
  outFile: string;
  slotA: SlotFiles;
  /** Every timestamp in the image. */
  epoch: number;
  /** disk-head.img from buildDiskHead for the same size (default: one is made from slotA's cmdline). */
  head?: string;
  /** The disk's size (default and minimum: MIN_DISK_MIB). */
  sizeMiB?: number;
}

/** GRUB modules built into both images: GPT, FAT and ext4, the script, env and kernel loading. */
const GRUB_MODULES = ["part_gpt", "fat", "ext2", "normal", "configfile", "linux", "echo", "test", "loadenv", "search", "search_label", "regexp", "serial", "terminal", "sleep", "reboot", "halt"];
const GRUB_MODULES_PC = ["biosdisk", ...GRUB_MODULES];
const GRUB_MODULES_EFI = [...GRUB_MODULES, "all_video", "efi_gop"];
/** FAT stores local times from 1980 on; the builder pins TZ=UTC. */
const FAT_EPOCH = 315532800;
/** The protective MBR's disk signature and partition table, then LBA 1–33 (GPT header and entries). */
const MBR_TABLE = 0x1b8;
const PRIMARY_GPT_END = 34 * SECTOR;

/** The length of disk-head.img: everything before BOOT-A (66 MiB). */
export function diskHeadBytes(layout: Partition[] = diskLayout()): number {
  return partition(layout, "BOOT-A").start * SECTOR;
}

/** Writes the disk's head (see the header) to o.outFile, atomically. */
export function buildDiskHead(o: DiskHeadOptions): void {
  const tools = diskTools();
  const sizeMiB = o.sizeMiB ?? MIN_DISK_MIB;
  const layout = diskLayout(sizeMiB);
  const work = mkdtempSync(join(tmpdir(), "kiln-disk-head-"));
  const tmp = `${o.outFile}.tmp-${process.pid}`;
  try {
    // The whole disk, sparse, so sfdisk sees its real size; then cut before BOOT-A.
    step("disk-head.img", "partition table", () => writeTable(tools, tmp, sizeMiB, layout));
    step("disk-head.img", "BIOS boot code", () => writeBiosBoot(tools, tmp, layout, work));
    step("disk-head.img", "EFI system partition", () => writeEsp(tools, tmp, partition(layout, "EFI"), layout, o.cmdline.trim(), work, o.epoch));
    truncateSync(tmp, diskHeadBytes(layout));
    renameSync(tmp, o.outFile);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes o.outFile (atomically: a temporary file renamed into place). */
export function buildDisk(o: DiskOptions): void {
  const tools = diskTools();
  const sizeMiB = o.sizeMiB ?? MIN_DISK_MIB;
  const layout = diskLayout(sizeMiB);
  const cmdline = readFileSync(o.slotA.cmdline, "utf8").trim();
  const work = mkdtempSync(join(tmpdir(), "kiln-disk-"));
  const tmp = `${o.outFile}.tmp-${process.pid}`;
  try {
    const head = o.head ?? join(work, "disk-head.img");
    if (!o.head) buildDiskHead({ outFile: head, cmdline, epoch: o.epoch, sizeMiB });
    // sfdisk writes the backup GPT at the end; the head brings the same primary GPT and the boot code.
    step("disk.raw", "partition table", () => writeTable(tools, tmp, sizeMiB, layout));
    step("disk.raw", "disk-head.img", () => placeHead(tmp, head, layout, sizeMiB));
    step("disk.raw", "BOOT-A", () => writeExt4(tools, tmp, partition(layout, "BOOT-A"), work, o.epoch, stageSlot(o.slotA, cmdline, join(work, "slot-a"), o.epoch)));
    step("disk.raw", "BOOT-B", () => writeExt4(tools, tmp, partition(layout, "BOOT-B"), work, o.epoch));
    step("disk.raw", "STATE", () => writeExt4(tools, tmp, partition(layout, "STATE"), work, o.epoch));
    renameSync(tmp, o.outFile);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs one part of building `what`, naming it in the error. */
function step(what: string, part: string, fn: () => void): void {
  try {
    fn();
  } catch (cause) {
    throw new Error(`${what}: ${part}`, { cause });
  }
}

/** Copies the head over the start of `disk`, after checking it holds the table sfdisk just wrote there. */
function placeHead(disk: string, head: string, layout: Partition[], sizeMiB: number): void {
  const want = diskHeadBytes(layout);
  const size = statSync(head).size;
  if (size !== want) throw new Error(`${head} is ${size} bytes, expected ${want} (everything before BOOT-A): make it with buildDiskHead`);
  const [ours, theirs] = [readAt(disk, 0, PRIMARY_GPT_END), readAt(head, 0, PRIMARY_GPT_END)];
  if (!ours.subarray(MBR_TABLE).equals(theirs.subarray(MBR_TABLE))) {
    throw new Error(`${head} holds a different partition table than a ${sizeMiB} MiB disk.raw: build the head with the same kiln and size as the disk`);
  }
  copyInto(disk, 0, head);
}

/** A sparse file of the layout's size with the GPT written and checked. */
function writeTable(t: DiskTools, disk: string, sizeMiB: number, layout: Partition[]): void {
  writeFileSync(disk, "");
  truncateSync(disk, sizeMiB * 1024 * 1024);
  run(t.sfdisk, ["-q", "--no-reread", "--no-tell-kernel", disk], { input: sfdiskScript(layout) });
  const problems = checkTable(run(t.sfdisk, ["-J", disk]), layout);
  if (problems.length) throw new Error(`sfdisk wrote a different table: ${problems.join("; ")}`);
}

/** boot.img into the MBR, core.img (prefix: the ESP of the same disk) into the BIOS boot partition. */
function writeBiosBoot(t: DiskTools, disk: string, layout: Partition[], work: string): void {
  const bios = partition(layout, "BIOS");
  const core = join(work, "core.img");
  const prefix = `(,gpt${partition(layout, "EFI").number})/grub`;
  run(t.grubMkimage, ["-d", t.grubPc, "-O", "i386-pc", "-o", core, "-p", prefix, ...GRUB_MODULES_PC]);
  const mbr = readAt(disk, 0, SECTOR);
  writeAt(disk, 0, patchMbr(mbr, readFileSync(join(t.grubPc, "boot.img")), bios.start));
  writeAt(disk, bios.start * SECTOR, placeCore(readFileSync(core), bios.start, bios.size));
}

/** FAT32 with EFI/BOOT/BOOTX64.EFI, grub/grub.cfg and grub/grubenv, copied into its partition. */
function writeEsp(t: DiskTools, disk: string, esp: Partition, layout: Partition[], cmdline: string, work: string, epoch: number): void {
  const tree = join(work, "esp");
  mkdirSync(join(tree, "EFI/BOOT"), { recursive: true });
  mkdirSync(join(tree, "grub"));
  run(t.grubMkimage, ["-d", t.grubEfi, "-O", "x86_64-efi", "-o", join(tree, "EFI/BOOT/BOOTX64.EFI"), "-p", "/grub", ...GRUB_MODULES_EFI]);
  const slots = { A: partition(layout, "BOOT-A").number, B: partition(layout, "BOOT-B").number };
  writeFileSync(join(tree, "grub/grub.cfg"), grubCfg({ slots, defaultCmdline: cmdline }));
  writeFileSync(join(tree, "grubenv"), initialGrubenv());
  const time = Math.max(epoch, FAT_EPOCH);
  for (const p of ["EFI/BOOT/BOOTX64.EFI", "EFI/BOOT", "EFI", "grub/grub.cfg", "grub", "grubenv"]) utimesSync(join(tree, p), time, time);
  const img = join(work, "esp.img");
  const env = { ...process.env, TZ: "UTC" };
  run(t.mkfsFat, ["-C", "-F", "32", "-S", "512", "-s", "1", "-n", esp.name, "--invariant", "-i", "6b696c6e", img, String((esp.size * SECTOR) / 1024)], { env });
  // Each directory copied holds one entry, and grubenv is added after: the order is ours, not readdir's.
  run(t.mcopy, ["-s", "-m", "-p", "-Q", "-i", img, join(tree, "EFI"), join(tree, "grub"), "::/"], { env });
  run(t.mcopy, ["-m", "-p", "-Q", "-i", img, join(tree, "grubenv"), "::/grub/grubenv"], { env });
  copyInto(disk, esp.start * SECTOR, img);
}

/** vmlinuz, initramfs, manifest.json, cmdline and cmdline.grubenv in `dir`, mode 0644, times at the epoch. */
function stageSlot(s: SlotFiles, cmdline: string, dir: string, epoch: number): string {
  mkdirSync(dir);
  const files: [string, string][] = [["vmlinuz", s.kernel], ["initramfs", s.initramfs], ["manifest.json", s.manifest], ["cmdline", s.cmdline]];
  for (const [name, from] of files) copyFileSync(from, join(dir, name));
  writeFileSync(join(dir, "cmdline.grubenv"), slotCmdlineEnv(cmdline));
  for (const [name] of [...files, ["cmdline.grubenv"]]) {
    chmodSync(join(dir, name!), 0o644);
    utimesSync(join(dir, name!), epoch, epoch);
  }
  chmodSync(dir, 0o755);
  utimesSync(dir, epoch, epoch);
  return dir;
}

/** An ext4 labelled with the partition's name, made in place in its partition, from `from` when given. */
function writeExt4(t: DiskTools, disk: string, p: Partition, work: string, epoch: number, from?: string): void {
  const conf = join(work, "mke2fs.conf");
  writeFileSync(conf, MKE2FS_CONF);
  const uuid = p.fsUuid!.toLowerCase();
  const args = ["-q", "-F", "-T", "default", "-b", "4096", "-m", "0", "-L", p.name, "-U", uuid,
    "-E", `offset=${p.start * SECTOR},hash_seed=${uuid},root_owner=0:0,nodiscard`, ...(from ? ["-d", from] : []), disk, `${(p.size * SECTOR) / 1024}k`];
  // e2fsprogs treats a fake time of 0 as unset.
  const env = { ...process.env, MKE2FS_CONFIG: conf, E2FSPROGS_FAKE_TIME: String(Math.max(epoch, 1)) };
  run(t.mkfsExt4, args, { env });
  if (!from) return;
  // mkfs.ext4 -d copies each file's owner and ctime (which no one can set): pin them.
  const script = join(work, `pin-${p.number}`);
  const pin = (f: string) => [`sif /${f} ctime @${epoch}`, `sif /${f} uid 0`, `sif /${f} gid 0`];
  writeFileSync(script, `${readdirSync(from).sort().flatMap(pin).join("\n")}\n`);
  // debugfs exits 0 when a request fails; its stderr says so.
  const r = spawnSync(t.debugfs, ["-w", "-f", script, `${disk}?offset=${p.start * SECTOR}`], { env, encoding: "utf8" });
  const errors = `${r.error ?? ""}${r.stderr ?? ""}`.split("\n").filter((l) => l && !/^debugfs \d/.test(l));
  if (r.status !== 0 || errors.length) throw new Error(`debugfs -w -f ${script} failed (${r.status}): ${errors.join("; ")}`);
}

/** The ext4 features GRUB 2.06 reads, pinned: a newer e2fsprogs's defaults may add ones it does not. */
const MKE2FS_CONF = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`;

/** Copies `file` into `disk` at `pos`, skipping all-zero blocks (the disk is sparse and zero already). */
function copyInto(disk: string, pos: number, file: string): void {
  const [src, dst] = [openSync(file, "r"), openSync(disk, "r+")];
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let off = 0; ; ) {
      const n = readSync(src, buf, 0, buf.length, off);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      if (chunk.some((b) => b !== 0)) writeSync(dst, chunk, 0, n, pos + off);
      off += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

function readAt(file: string, pos: number, len: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(len);
    if (readSync(fd, buf, 0, len, pos) !== len) throw new Error(`${file}: short read at ${pos}`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function writeAt(file: string, pos: number, data: Buffer): void {
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, data, 0, data.length, pos);
  } finally {
    closeSync(fd);
  }
}

/** Runs a program; on failure throws its command line and stderr. */
function run(cmd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input: o.input, env: o.env, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 16 << 20 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`${cmd} ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`, { cause: err });
  }
}
