// Filesystem labels read from the first sectors: real vfat (FAT12/16/32)
// and iso9660 images made by mkfs.vfat and genisoimage, read as files, and
// hand-made headers for the corner cases.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { probeLabel } from "../../../src/machined/config-sources/fs-label.js";
import { tempDir } from "../helpers.js";
import { fat16Header, isoHeader, isoImage, vfatImage } from "./helpers.js";

/** `bytes` written to a temp file. */
function file(t: Parameters<typeof tempDir>[0], bytes: Buffer): string {
  const path = join(tempDir(t), "dev");
  writeFileSync(path, bytes);
  return path;
}

for (const bits of [12, 16, 32] as const) {
  t.test(`reads the label of a real FAT${bits} image from mkfs.vfat -n`, async (t) => {
    const img = vfatImage(t, "KILN-CONFIG", { "config.yaml": "x" }, bits);
    if (!img) return;
    t.same(await probeLabel(img), { fstype: "vfat", label: "KILN-CONFIG" });
  });
}

t.test("reads the label of a real iso9660 image from genisoimage -V", async (t) => {
  const img = isoImage(t, "cidata", { "user-data": "x" });
  if (!img) return;
  t.same(await probeLabel(img), { fstype: "iso9660", label: "cidata" });
});

t.test("a FAT boot sector without a label, or NO NAME, has the empty label", async (t) => {
  const noSig = fat16Header("KILN-CONFIG");
  noSig[0x26] = 0;
  t.same(await probeLabel(file(t, noSig)), { fstype: "vfat", label: "" });
  t.same(await probeLabel(file(t, fat16Header("NO NAME"))), { fstype: "vfat", label: "" });
});

t.test("the root directory's volume label entry wins over the boot sector's", async (t) => {
  const b = fat16Header("OLD");
  const root = (4 + 2 * 32) * 512; // reserved + 2 FATs of 32 sectors
  b.write("CONFIG  YAM", root, "latin1");
  b[root + 11] = 0x20; // a file
  b.write("KILN-CONFIG", root + 32, "latin1");
  b[root + 32 + 11] = 0x08; // the volume label
  t.same(await probeLabel(file(t, b)), { fstype: "vfat", label: "KILN-CONFIG" });
});

t.test("an MBR, an empty device and a short one are neither iso9660 nor FAT", async (t) => {
  const mbr = Buffer.alloc(4096);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  t.equal(await probeLabel(file(t, mbr)), undefined);
  t.equal(await probeLabel(file(t, Buffer.alloc(0))), undefined);
  t.equal(await probeLabel(file(t, Buffer.from("short"))), undefined);
});

t.test("an iso9660 volume id is trimmed of its padding", async (t) => {
  t.same(await probeLabel(file(t, isoHeader("KILN-CONFIG"))), { fstype: "iso9660", label: "KILN-CONFIG" });
});
