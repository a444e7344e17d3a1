// BIOS boot code for a GPT disk image, as `grub-bios-setup --no-rs-codes`
// writes it, but on a plain file (grub-bios-setup wants a real device):
//   - LBA 0: GRUB's boot.img code over the protective MBR's code area,
//     keeping the disk signature and partition table (0x1B8..0x1FF), told
//     where core.img starts and not to probe the BIOS drive number;
//   - the BIOS boot partition: core.img, whose first sector (diskboot.img)
//     ends in a blocklist telling it where the rest of core.img is.
// Offsets are GRUB's i386-pc boot.h/diskboot.S constants (GRUB 2.06).

const MBR_CODE_END = 0x1b8; // disk signature, then the partition table
const KERNEL_SECTOR = 0x5c; // u64: LBA of core.img's first sector
const DRIVE_CHECK = 0x66; // 2 bytes: a jump over "force %dl to 0x80 if it is not a hard disk"; NOPs enable it
const BLOCKLIST = 0x1f4; // in diskboot.img: u64 start, u16 sectors, u16 segment
const BLOCKLIST_SEGMENT = 0x820;

/** LBA 0 with boot.img's code: `mbr` must be a protective MBR; returns a patched copy. */
export function patchMbr(mbr: Buffer, bootImg: Buffer, coreLba: number): Buffer {
  if (bootImg.length !== 512) throw new Error(`boot.img: expected 512 bytes, got ${bootImg.length}`);
  if (mbr.length !== 512) throw new Error(`MBR: expected 512 bytes, got ${mbr.length}`);
  if (mbr.readUInt16LE(510) !== 0xaa55 || mbr[0x1be + 4] !== 0xee) throw new Error("LBA 0 is not a protective MBR: write the GPT first");
  const out = Buffer.from(mbr);
  bootImg.copy(out, 0, 0, MBR_CODE_END);
  out.writeBigUInt64LE(BigInt(coreLba), KERNEL_SECTOR);
  out[DRIVE_CHECK] = 0x90;
  out[DRIVE_CHECK + 1] = 0x90;
  return out;
}

/** core.img padded to whole sectors, its blocklist pointing at the sectors after `coreLba`; throws if it does not fit. */
export function placeCore(coreImg: Buffer, coreLba: number, maxSectors: number): Buffer {
  const sectors = Math.ceil(coreImg.length / 512);
  if (sectors > maxSectors) throw new Error(`core.img is ${sectors} sectors, more than the BIOS boot partition's ${maxSectors}`);
  const out = Buffer.alloc(sectors * 512);
  coreImg.copy(out);
  const [len, seg] = [out.readUInt16LE(BLOCKLIST + 8), out.readUInt16LE(BLOCKLIST + 10)];
  if (len !== sectors - 1 || seg !== BLOCKLIST_SEGMENT) {
    throw new Error(`core.img's blocklist says ${len} sectors at segment 0x${seg.toString(16)}, expected ${sectors - 1} at 0x820: not an i386-pc core.img from grub-mkimage`);
  }
  out.writeBigUInt64LE(BigInt(coreLba + 1), BLOCKLIST);
  return out;
}
