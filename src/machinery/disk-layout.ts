// The partition table of disk.raw, as data: six GPT partitions at fixed
// MiB-aligned offsets, with fixed GUIDs so the same inputs give the same
// bytes. The builder writes it with sfdisk (src/image/sfdisk.ts); the
// installer on the machine writes the same table itself (machined/install).
//
//   1 BIOS       BIOS boot (GRUB's core.img)        1 MiB   at 1 MiB
//   2 EFI        EFI system, FAT32                 64 MiB
//   3 BOOT-A     ext4: vmlinuz, initramfs, …      512 MiB
//   4 BOOT-B     ext4, empty                      512 MiB
//   5 STATE      ext4, empty                       64 MiB
//   6 EPHEMERAL  unformatted, the rest of the disk (≥ 64 MiB)

export const SECTOR = 512;
const MiB = 2048; // sectors

export const GPT_TYPE = {
  biosBoot: "21686148-6449-6E6F-744E-656564454649",
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
} as const;

/** The GPT's disk GUID ("kiln" in its first four bytes). */
export const DISK_GUID = "6B696C6E-0000-4000-8000-000000000000";

export type PartitionName = "BIOS" | "EFI" | "BOOT-A" | "BOOT-B" | "STATE" | "EPHEMERAL";
export type Filesystem = "none" | "vfat" | "ext4";

export interface Partition {
  /** 1-based, as GRUB's gptN and Linux's sdaN count. */
  number: number;
  /** The GPT partition name (PARTLABEL); ext4 and vfat labels are the same. */
  name: PartitionName;
  type: string;
  /** The partition's unique GUID (PARTUUID). */
  uuid: string;
  /** The filesystem's UUID, when the builder makes one. */
  fsUuid: string | undefined;
  fs: Filesystem;
  start: number;
  /** In sectors. */
  size: number;
}

/** Name, type, filesystem and size in MiB (undefined: the rest of the disk), in table order. */
const TABLE: [PartitionName, string, Filesystem, number | undefined][] = [
  ["BIOS", GPT_TYPE.biosBoot, "none", 1],
  ["EFI", GPT_TYPE.esp, "vfat", 64],
  ["BOOT-A", GPT_TYPE.linux, "ext4", 512],
  ["BOOT-B", GPT_TYPE.linux, "ext4", 512],
  ["STATE", GPT_TYPE.linux, "ext4", 64],
  ["EPHEMERAL", GPT_TYPE.linux, "none", undefined],
];

const FIRST_MIB = 1;
/** The first sector a partition may use (sfdisk's first-lba). */
export const FIRST_LBA = FIRST_MIB * MiB;
const MIN_REST_MIB = 64;
/** The backup GPT: 32 sectors of entries and the header, at the very end. */
const BACKUP_GPT_SECTORS = 33;

/** The smallest disk (and the default): the fixed partitions, 64 MiB of EPHEMERAL, 1 MiB for the backup GPT. */
export const MIN_DISK_MIB = FIRST_MIB + TABLE.reduce((n, [, , , mib]) => n + (mib ?? 0), 0) + MIN_REST_MIB + 1;

/** The partitions of a disk of `sizeMiB`; throws when it is too small. */
export function diskLayout(sizeMiB = MIN_DISK_MIB): Partition[] {
  if (!Number.isInteger(sizeMiB) || sizeMiB < MIN_DISK_MIB) {
    throw new Error(`Expected the disk size to be an integer of at least ${MIN_DISK_MIB} MiB, got \`${sizeMiB}\``);
  }
  const lastUsable = sizeMiB * MiB - BACKUP_GPT_SECTORS - 1;
  let start = FIRST_LBA;
  return TABLE.map(([name, type, fs, mib], i) => {
    const n = i + 1;
    const size = mib === undefined ? lastUsable - start + 1 : mib * MiB;
    const p: Partition = { number: n, name, type, uuid: guid(1, n), fsUuid: fs === "none" ? undefined : guid(2, n), fs, start, size };
    start += size;
    return p;
  });
}

/** The partition called `name`. */
export function partition(layout: Partition[], name: PartitionName): Partition {
  const p = layout.find((x) => x.name === name);
  if (!p) throw new Error(`the disk layout has no ${name} partition`);
  return p;
}

/** A fixed GUID: "kiln", a kind (1 partition, 2 filesystem) and the partition number. */
function guid(kind: number, n: number): string {
  const h = (v: number, w: number) => v.toString(16).toUpperCase().padStart(w, "0");
  return `6B696C6E-${h(kind, 4)}-4000-8000-${h(n, 12)}`;
}
