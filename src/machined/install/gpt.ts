// kiln's GPT for a disk of any size, written by machined itself (the image
// has no sfdisk): the partitions of diskLayout(sizeMiB) with the builder's
// fixed GUIDs, EPHEMERAL to the end, the primary header and entries in LBA
// 1-33, the backup ones in the last 33 sectors, and the protective MBR's one
// entry covering the disk. disk-head.img brings a GPT made for the smallest
// disk; this one replaces it. CRC32 as the UEFI spec has it (zlib's).
import { crc32 } from "node:zlib";
import { DISK_GUID, diskLayout, type Partition, SECTOR } from "../../machinery/disk-layout.js";

const ENTRIES = 128;
const ENTRY_SIZE = 128;
const HEADER_SIZE = 92;
/** LBAs the entry array fills: 128 entries of 128 bytes. */
const ENTRY_SECTORS = (ENTRIES * ENTRY_SIZE) / SECTOR;
/** Where the protective MBR's first partition entry lies. */
const MBR_ENTRY = 446;

/** The bytes to write, each at its byte offset on the disk. */
export interface GptWrite {
  offset: number;
  data: Buffer;
}

/** The protective MBR entry, primary GPT and backup GPT for a disk of `sizeBytes`; the MBR's boot code is left alone. */
export function gptWrites(sizeBytes: number): { layout: Partition[]; writes: GptWrite[] } {
  const sectors = Math.floor(sizeBytes / SECTOR);
  const layout = diskLayout(Math.floor(sizeBytes / 2 ** 20));
  const entries = entryArray(layout);
  const backupEntries = sectors - 1 - ENTRY_SECTORS;
  const primary = header({ sectors, self: 1, alternate: sectors - 1, entriesAt: 2, entries });
  const backup = header({ sectors, self: sectors - 1, alternate: 1, entriesAt: backupEntries, entries });
  const writes = [
    { offset: MBR_ENTRY, data: protectiveEntry(sectors) },
    { offset: SECTOR, data: Buffer.concat([primary, entries]) },
    { offset: backupEntries * SECTOR, data: Buffer.concat([entries, backup]) },
  ];
  return { layout, writes };
}

/** The 128 entries, the layout's partitions first. */
function entryArray(layout: Partition[]): Buffer {
  const buf = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  layout.forEach((p, i) => {
    const at = i * ENTRY_SIZE;
    guidBytes(p.type).copy(buf, at);
    guidBytes(p.uuid).copy(buf, at + 16);
    buf.writeBigUInt64LE(BigInt(p.start), at + 32);
    buf.writeBigUInt64LE(BigInt(p.start + p.size - 1), at + 40);
    buf.write(p.name, at + 56, 72, "utf16le");
  });
  return buf;
}

/** One GPT header sector: where it is, where its twin is, the usable range, the entries' place and CRC. */
function header(h: { sectors: number; self: number; alternate: number; entriesAt: number; entries: Buffer }): Buffer {
  const buf = Buffer.alloc(SECTOR);
  buf.write("EFI PART", 0, "latin1");
  buf.writeUInt32LE(0x00010000, 8);
  buf.writeUInt32LE(HEADER_SIZE, 12);
  buf.writeBigUInt64LE(BigInt(h.self), 24);
  buf.writeBigUInt64LE(BigInt(h.alternate), 32);
  buf.writeBigUInt64LE(2048n, 40); // first usable: 1 MiB, as the builder's sfdisk script says
  buf.writeBigUInt64LE(BigInt(h.sectors - 2 - ENTRY_SECTORS), 48);
  guidBytes(DISK_GUID).copy(buf, 56);
  buf.writeBigUInt64LE(BigInt(h.entriesAt), 72);
  buf.writeUInt32LE(ENTRIES, 80);
  buf.writeUInt32LE(ENTRY_SIZE, 84);
  buf.writeUInt32LE(crc32(h.entries), 88);
  buf.writeUInt32LE(crc32(buf.subarray(0, HEADER_SIZE)), 16);
  return buf;
}

/** The protective MBR's entry: type EE from LBA 1 over the whole disk (capped at 2^32-1 sectors). */
function protectiveEntry(sectors: number): Buffer {
  const e = Buffer.alloc(16);
  e.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff]);
  e.writeUInt32LE(1, 8);
  e.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 12);
  return e;
}

/** A GUID's 16 bytes as GPT stores them: the first three fields little-endian. */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`expected a GUID such as ${DISK_GUID}, got "${guid}"`);
  const b = Buffer.from(hex, "hex");
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}
