// A filesystem's type and label, read from its first sectors (no blkid in
// the image). Only what a config drive may be: iso9660 and vfat.
import { open } from "node:fs/promises";

export interface FsLabel {
  fstype: "iso9660" | "vfat";
  /** As stored, trailing spaces dropped ("" when it has none). */
  label: string;
}

/** The label of the filesystem on `path` (a device or an image file), or undefined if neither type. */
export async function probeLabel(path: string): Promise<FsLabel | undefined> {
  const fh = await open(path, "r");
  try {
    const at = async (pos: number, len: number) => {
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      return buf.subarray(0, bytesRead);
    };
    const iso = isoLabel(await at(32768, 2048));
    if (iso !== undefined) return { fstype: "iso9660", label: iso };
    const boot = await at(0, 512);
    const fat = fatGeometry(boot);
    if (!fat) return undefined;
    const root = fat.rootDir ? rootDirLabel(await at(fat.rootDir.offset, fat.rootDir.length)) : undefined;
    return { fstype: "vfat", label: root ?? fat.bootLabel };
  } finally {
    await fh.close();
  }
}

/** The volume id of an iso9660 primary volume descriptor (sector 16), or undefined. */
export function isoLabel(pvd: Buffer): string | undefined {
  if (pvd.length < 72 || pvd[0] !== 1 || pvd.toString("latin1", 1, 6) !== "CD001") return undefined;
  return text(pvd.subarray(40, 72));
}

interface FatGeometry {
  /** The label in the boot sector's extended BPB ("" when absent or NO NAME). */
  bootLabel: string;
  /** Where the root directory (its first cluster on FAT32) lies, if it can be found. */
  rootDir?: { offset: number; length: number };
}

/** A FAT boot sector's label and root directory, or undefined if this is not FAT. */
export function fatGeometry(b: Buffer): FatGeometry | undefined {
  if (b.length < 512 || b[510] !== 0x55 || b[511] !== 0xaa) return undefined;
  const bytesPerSector = b.readUInt16LE(0x0b);
  const perCluster = b[0x0d]!;
  const reserved = b.readUInt16LE(0x0e);
  const fats = b[0x10]!;
  const rootEntries = b.readUInt16LE(0x11);
  const fat16Size = b.readUInt16LE(0x16);
  const fat32 = fat16Size === 0;
  // The extended BPB: signature, label and type string sit 0x1c further on FAT32.
  const ext = fat32 ? 0x1c : 0;
  if (!b.toString("latin1", 0x36 + ext, 0x39 + ext).startsWith("FAT")) return undefined;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !isPow2(perCluster) || fats < 1 || reserved < 1) return undefined;
  const hasLabel = b[0x26 + ext] === 0x29;
  const label = hasLabel ? text(b.subarray(0x2b + ext, 0x36 + ext)) : "";
  const bootLabel = label === "NO NAME" ? "" : label;
  const fatsEnd = (reserved + fats * (fat32 ? b.readUInt32LE(0x24) : fat16Size)) * bytesPerSector;
  if (!fat32) return { bootLabel, rootDir: { offset: fatsEnd, length: Math.min(rootEntries * 32, 65536) } };
  const rootCluster = b.readUInt32LE(0x2c);
  if (rootCluster < 2) return { bootLabel };
  const clusterBytes = perCluster * bytesPerSector;
  return { bootLabel, rootDir: { offset: fatsEnd + (rootCluster - 2) * clusterBytes, length: Math.min(clusterBytes, 65536) } };
}

/** The volume-label entry of a FAT root directory, or undefined if it has none. */
export function rootDirLabel(dir: Buffer): string | undefined {
  for (let off = 0; off + 32 <= dir.length; off += 32) {
    const first = dir[off]!;
    if (first === 0) return undefined;
    const attr = dir[off + 11]!;
    if (first === 0xe5 || attr === 0x0f) continue;
    if (attr & 0x08) return text(dir.subarray(off, off + 11));
  }
  return undefined;
}

/** Space- or NUL-padded latin1 text, trimmed at the end. */
function text(b: Buffer): string {
  return b.toString("latin1").replace(/[\s\0]+$/, "");
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
