// disk.raw: the layout as data, the BIOS boot patch on synthetic sectors,
// and, with the real sfdisk/mkfs/mtools/grub-mkimage, two builds from small
// fake slot files that must be byte-identical and hold what GRUB boots.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { patchMbr, placeCore } from "../../src/image/bios-boot.js";
import { buildDisk } from "../../src/image/disk.js";
import { type DiskTools, diskTools } from "../../src/image/grub-tools.js";
import { checkTable, sfdiskScript } from "../../src/image/sfdisk.js";
import { diskLayout, GPT_TYPE, MIN_DISK_MIB, partition, SECTOR } from "../../src/machinery/disk-layout.js";
import { decodeGrubenv } from "../../src/machinery/grub.js";

const epoch = 1700000000;
const MiB = 1 << 20;

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-disk-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The host tools; when missing, fails on CI and skips elsewhere. */
function needTools(t: Test): DiskTools | undefined {
  try {
    return diskTools();
  } catch (err) {
    const msg = (err as Error).message;
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return undefined;
  }
}

t.test("the layout: six named partitions, MiB-aligned, EPHEMERAL takes the rest", async (t) => {
  const l = diskLayout();
  t.same(l.map((p) => [p.number, p.name, p.fs]), [[1, "BIOS", "none"], [2, "EFI", "vfat"], [3, "BOOT-A", "ext4"], [4, "BOOT-B", "ext4"], [5, "STATE", "ext4"], [6, "EPHEMERAL", "none"]]);
  t.same(l.slice(0, 5).map((p) => (p.size * SECTOR) / MiB), [1, 64, 512, 512, 64]);
  for (const p of l) t.equal(p.start % 2048, 0, `${p.name} starts on a MiB`);
  for (let i = 1; i < l.length; i++) t.equal(l[i - 1]!.start + l[i - 1]!.size, l[i]!.start, `${l[i]!.name} follows ${l[i - 1]!.name}`);
  const eph = partition(l, "EPHEMERAL");
  t.ok(eph.size * SECTOR >= 64 * MiB, "EPHEMERAL has at least 64 MiB");
  t.equal(eph.start + eph.size + 33, MIN_DISK_MIB * 2048, "the backup GPT fits after it");
  t.equal(partition(diskLayout(4096), "EPHEMERAL").start, eph.start, "a bigger disk grows only EPHEMERAL");
  t.equal(partition(l, "BIOS").type, "21686148-6449-6E6F-744E-656564454649");
  t.throws(() => diskLayout(MIN_DISK_MIB - 1), /at least/);
});

t.test("the sfdisk script names every partition and checkTable catches a wrong type", async (t) => {
  const l = diskLayout();
  const script = sfdiskScript(l);
  t.match(script, /^label: gpt\nlabel-id: 6B696C6E-0000-4000-8000-000000000000\n/);
  t.match(script, `start=2048, size=2048, type=${GPT_TYPE.biosBoot}, uuid=6B696C6E-0001-4000-8000-000000000001, name="BIOS"`);
  const json = (types: string[]) =>
    JSON.stringify({ partitiontable: { label: "gpt", id: "6B696C6E-0000-4000-8000-000000000000", partitions: l.map((p, i) => ({ ...p, type: types[i] })) } });
  t.same(checkTable(json(l.map((p) => p.type)), l), []);
  t.match(checkTable(json(["21686148-6453-6E6F-744E-656564454649", ...l.slice(1).map((p) => p.type)]), l), [/partition 1 type/]);
});

t.test("boot.img goes over the MBR code only, pointing at core.img", async (t) => {
  const mbr = Buffer.alloc(512);
  mbr.fill(7, 0x1b8);
  mbr[0x1be + 4] = 0xee;
  mbr.writeUInt16LE(0xaa55, 510);
  const boot = Buffer.alloc(512, 0xcc);
  const out = patchMbr(mbr, boot, 2048);
  t.ok(out.subarray(0, 0x5c).every((b) => b === 0xcc), "code copied");
  t.equal(out.readBigUInt64LE(0x5c), 2048n);
  t.same([out[0x66], out[0x67]], [0x90, 0x90]);
  t.same(out.subarray(0x1b8, 0x1fe), mbr.subarray(0x1b8, 0x1fe), "disk signature and partition table kept");
  t.equal(out.readUInt16LE(510), 0xaa55);
  t.throws(() => patchMbr(Buffer.alloc(512), boot, 2048), /protective MBR/);
});

t.test("core.img's blocklist points after its first sector", async (t) => {
  const core = Buffer.alloc(3 * 512 + 100, 1);
  core.writeBigUInt64LE(2n, 0x1f4);
  core.writeUInt16LE(3, 0x1fc);
  core.writeUInt16LE(0x820, 0x1fe);
  const out = placeCore(core, 2048, 2048);
  t.equal(out.length, 4 * 512, "padded to sectors");
  t.equal(out.readBigUInt64LE(0x1f4), 2049n);
  t.throws(() => placeCore(core, 2048, 3), /more than the BIOS boot partition/);
  core.writeUInt16LE(9, 0x1fc);
  t.throws(() => placeCore(core, 2048, 2048), /not an i386-pc core.img/);
});

t.test("missing tools are named with their packages", async (t) => {
  t.throws(() => diskTools({ path: ["/nonexistent"], grubLib: "/nonexistent" }), /sfdisk \(fdisk\).*grub-mkimage \(grub-common\).*grub-pc-bin.*grub-efi-amd64-bin.*apt-get install --no-install-recommends fdisk e2fsprogs dosfstools mtools grub-common grub-pc-bin grub-efi-amd64-bin/);
});

t.test("two builds from the same inputs are byte-identical and hold a bootable disk", async (t) => {
  const tools = needTools(t);
  if (!tools) return;
  const dir = scratch(t);
  const slot = { kernel: join(dir, "k"), initramfs: join(dir, "i"), manifest: join(dir, "m.json"), cmdline: join(dir, "cmdline") };
  writeFileSync(slot.kernel, Buffer.alloc(5000, 0x4b));
  writeFileSync(slot.initramfs, Buffer.alloc(9000, 0x49));
  writeFileSync(slot.manifest, "{}\n");
  writeFileSync(slot.cmdline, "console=ttyS0 panic=10 quiet\n");
  const [a, b] = [join(dir, "a.raw"), join(dir, "b.raw")];
  buildDisk({ outFile: a, slotA: slot, epoch });
  await new Promise((r) => setTimeout(r, 1100)); // a second later: no wall-clock time may leak in
  buildDisk({ outFile: b, slotA: slot, epoch });
  t.equal(sha256(a), sha256(b), "byte-identical");

  const l = diskLayout();
  t.same(checkTable(execFileSync(tools.sfdisk, ["-J", a], { encoding: "utf8" }), l), [], "the table is the layout");
  const mbr = readAt(a, 0, 512);
  t.equal(mbr.readBigUInt64LE(0x5c), 2048n, "the MBR points at core.img");
  t.equal(readAt(a, 2048 * SECTOR, 512).readBigUInt64LE(0x1f4), 2049n, "core.img is in the BIOS boot partition");

  const esp = `${a}@@${partition(l, "EFI").start * SECTOR}`;
  const mtype = (f: string) => execFileSync("mtype", ["-i", esp, f], { env: { ...process.env, TZ: "UTC" } });
  t.equal(mtype("::/EFI/BOOT/BOOTX64.EFI").subarray(0, 2).toString(), "MZ", "BOOTX64.EFI is a PE image");
  t.match(mtype("::/grub/grub.cfg").toString(), /set root=\(\$\{kiln_disk\},gpt3\)/);
  t.same(decodeGrubenv(execFileSync("mcopy", ["-i", esp, "::/grub/grubenv", "-"])), { value: { kiln_slot: "A", kiln_try: "" } });

  const ext4 = (name: "BOOT-A" | "BOOT-B" | "STATE", req: string) =>
    execFileSync(tools.debugfs, ["-R", req, `${a}?offset=${partition(l, name).start * SECTOR}`], { encoding: "latin1", stdio: ["ignore", "pipe", "ignore"] });
  t.same(ext4("BOOT-A", "cat /vmlinuz"), readFileSync(slot.kernel, "latin1"));
  t.same(ext4("BOOT-A", "cat /initramfs"), readFileSync(slot.initramfs, "latin1"));
  t.equal(ext4("BOOT-A", "cat /cmdline"), "console=ttyS0 panic=10 quiet\n");
  t.match(ext4("BOOT-A", "cat /cmdline.grubenv"), /\nkiln_cmdline=console=ttyS0 panic=10 quiet\n/);
  t.match(ext4("BOOT-A", "ls /"), /manifest\.json/);
  for (const name of ["BOOT-A", "BOOT-B", "STATE"] as const) t.match(ext4(name, "stats"), new RegExp(`Filesystem volume name:\\s+${name}\\n`), `${name} is labelled`);
  t.ok(readAt(a, partition(l, "EPHEMERAL").start * SECTOR, MiB).every((x) => x === 0), "EPHEMERAL is left unformatted");
});

/** The sha256 of a file, read 4 MiB at a time (disk.raw is over a GiB, mostly holes). */
function sha256(file: string): string {
  const h = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(4 * MiB);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** `len` bytes of `file` at `pos`. */
function readAt(file: string, pos: number, len: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, pos);
    return buf;
  } finally {
    closeSync(fd);
  }
}
