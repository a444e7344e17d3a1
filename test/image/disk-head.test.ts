// The disk's head (everything before BOOT-A), built on its own: disk.raw
// made from it starts with its exact bytes, and the same disk comes out
// without it; a head for another disk size is refused; the rootfs carries
// it and the kernel as the installer payload.
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { buildDisk, buildDiskHead, diskHeadBytes } from "../../src/image/disk.js";
import { diskTools } from "../../src/image/grub-tools.js";
import { buildRootfs } from "../../src/image/rootfs.js";
import { MIN_DISK_MIB } from "../../src/machinery/disk-layout.js";
import { imagePaths } from "../../src/machinery/paths.js";

const epoch = 1700000000;
const cmdline = "console=ttyS0 panic=10 quiet";

/** A scratch dir removed after the test. */
function scratch(t: Test, prefix = "kiln-disk-head-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether the host tools are there; when missing, fails on CI and skips elsewhere. */
function haveTools(t: Test): boolean {
  try {
    diskTools();
    return true;
  } catch (err) {
    const msg = (err as Error).message;
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return false;
  }
}

/** Small stand-ins for a slot's files. */
function slotFiles(dir: string) {
  const slot = { kernel: join(dir, "k"), initramfs: join(dir, "i"), manifest: join(dir, "m.json"), cmdline: join(dir, "cmdline") };
  writeFileSync(slot.kernel, Buffer.alloc(5000, 0x4b));
  writeFileSync(slot.initramfs, Buffer.alloc(9000, 0x49));
  writeFileSync(slot.manifest, "{}\n");
  writeFileSync(slot.cmdline, `${cmdline}\n`);
  return slot;
}

t.test("disk.raw starts with the head's bytes, and is the same disk without a head given", async (t) => {
  if (!haveTools(t)) return;
  const dir = scratch(t);
  const head = join(dir, "disk-head.img");
  buildDiskHead({ outFile: head, cmdline, epoch });
  t.equal(statSync(head).size, diskHeadBytes(), "everything before BOOT-A");
  t.equal(diskHeadBytes(), 66 * 1024 * 1024, "66 MiB");
  const again = join(dir, "again.img");
  buildDiskHead({ outFile: again, cmdline, epoch });
  t.equal(sha256(again), sha256(head), "reproducible");

  const slot = slotFiles(dir);
  const [a, b] = [join(dir, "a.raw"), join(dir, "b.raw")];
  buildDisk({ outFile: a, head, slotA: slot, epoch });
  t.equal(sha256(a, diskHeadBytes()), sha256(head), "disk.raw's first 66 MiB are the head");
  buildDisk({ outFile: b, slotA: slot, epoch });
  t.equal(sha256(b), sha256(a), "a disk made with its own head is the same disk");
});

t.test("a head for another disk size is refused", async (t) => {
  if (!haveTools(t)) return;
  const dir = scratch(t);
  const head = join(dir, "disk-head.img");
  buildDiskHead({ outFile: head, cmdline, epoch, sizeMiB: MIN_DISK_MIB + 100 });
  t.throws(() => buildDisk({ outFile: join(dir, "d.raw"), head, slotA: slotFiles(dir), epoch }), {
    cause: { message: /holds a different partition table than a \d+ MiB disk\.raw: build the head with the same kiln and size as the disk/ },
  });
  writeFileSync(head, "short");
  t.throws(() => buildDisk({ outFile: join(dir, "d.raw"), head, slotA: slotFiles(dir), epoch }), { cause: { message: /is 5 bytes, expected 69206016 \(everything before BOOT-A\)/ } });
});

t.test("the rootfs carries the disk's head where the installer reads it", async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, "machined.cjs"), "#!/usr/bin/node\n");
  writeFileSync(join(dir, "apid.cjs"), "#!/usr/bin/node\n");
  writeFileSync(join(dir, "config-worker.cjs"), "");
  const diskHead = join(dir, "head.img");
  writeFileSync(diskHead, Buffer.alloc(8192, 0xeb));
  const r = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: dir, installer: { diskHead } });
  t.equal(imagePaths.diskHead, "/usr/lib/kiln/boot/disk-head.img");
  for (const [path, from] of [[imagePaths.diskHead, diskHead]] as const) {
    t.match(r.entries.find((e) => e.path === path), { kind: "file", mode: 0o644 }, `${path} is listed`);
    t.same(readFileSync(join(r.dir, path)), readFileSync(from), `${path} holds the same bytes`);
  }
});

/** The sha256 of a file, or of its first `len` bytes, read 4 MiB at a time. */
function sha256(file: string, len = Number.POSITIVE_INFINITY): string {
  const h = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(4 << 20);
    for (let pos = 0; pos < len; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, len - pos), pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}
