// What the first MiB of a disk says it holds, read from the bytes alone (the
// image has no blkid): kiln's GPT, another partition table, a file system,
// a kiln-upgrade.tar written raw (install media), other data, or nothing.
// The installer refuses to write over anything but nothing and kiln's own.
import { DISK_GUID, SECTOR } from "../../machinery/disk-layout.js";
import { BUNDLE_INFO } from "../../machinery/upgrade-bundle.js";

/** What a disk holds: nothing, kiln's GPT, or something else, named for messages. */
export type DiskContent = { t: "blank" } | { t: "kiln" } | { t: "foreign"; what: string };

/** How much of a disk's start is read to judge it: every signature below lies within it. */
export const PROBE_BYTES = 1 << 20;

/** Judges a disk by its first bytes (PROBE_BYTES of them, fewer for a smaller disk). */
export function contentOf(head: Buffer): DiskContent {
  if (isGpt(head)) return diskGuidAt(head, SECTOR + 56) === DISK_GUID ? { t: "kiln" } : foreign("a GPT partition table");
  const what = signature(head);
  if (what) return foreign(what);
  return head.some((b) => b !== 0) ? foreign("data") : { t: "blank" };
}

/** A file system, volume or table other than a GPT, in the order the checks must go (an ISO or FAT also ends its first sector in 55 AA). */
function signature(b: Buffer): string | undefined {
  if (isBundleTar(b)) return "a kiln-upgrade.tar (install media)";
  if (ascii(b, 257, 5) === "ustar") return "a tar archive";
  if (b.length >= 1082 && b.readUInt16LE(1080) === 0xef53) return "an ext4 file system";
  if (ascii(b, 0, 4) === "XFSB") return "an XFS file system";
  if ([0, 1, 2, 3].some((s) => ascii(b, s * SECTOR, 8) === "LABELONE" && ascii(b, s * SECTOR + 24, 8) === "LVM2 001")) return "an LVM physical volume";
  if ([4096, 8192, 16384, 65536].some((page) => ["SWAPSPACE2", "SWAP-SPACE"].includes(ascii(b, page - 10, 10)))) return "a swap area";
  if (ascii(b, 32769, 5) === "CD001") return "an ISO 9660 file system";
  if (endsBootSector(b) && (ascii(b, 54, 3) === "FAT" || ascii(b, 82, 5) === "FAT32")) return "a FAT file system";
  if (endsBootSector(b) && [0, 1, 2, 3].some((i) => b[446 + i * 16 + 4] !== 0)) return "an MBR partition table";
  return undefined;
}

/** Whether a header block is a tar header (ustar magic at 257) naming kiln-upgrade.json: a kiln-upgrade.tar. */
export function isBundleTar(b: Buffer): boolean {
  return ascii(b, 257, 5) === "ustar" && cString(b, 0, 100) === BUNDLE_INFO;
}

/** A GPT header ("EFI PART") in LBA 1. */
function isGpt(b: Buffer): boolean {
  return ascii(b, SECTOR, 8) === "EFI PART";
}

/** A boot sector's 55 AA at bytes 510-511. */
function endsBootSector(b: Buffer): boolean {
  return b.length >= SECTOR && b[510] === 0x55 && b[511] === 0xaa;
}

/** A GUID as GPT stores it (first three fields little-endian), in its usual upper-case text form. */
export function diskGuidAt(b: Buffer, at: number): string {
  if (b.length < at + 16) return "";
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Buffer.from(b.subarray(at + from, at + to));
    return (reverse ? part.reverse() : part).toString("hex");
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join("-").toUpperCase();
}

function ascii(b: Buffer, at: number, len: number): string {
  return b.length >= at + len ? b.toString("latin1", at, at + len) : "";
}

/** A NUL-terminated string in a fixed-size field. */
function cString(b: Buffer, at: number, len: number): string {
  const field = b.subarray(at, at + len);
  const end = field.indexOf(0);
  return field.toString("latin1", 0, end < 0 ? field.length : end);
}

function foreign(what: string): DiskContent {
  return { t: "foreign", what };
}
