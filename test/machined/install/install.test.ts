// The installer over a fake machine: disks are sparse files under a fake
// sysfs and /dev, the kernel's re-read of the table is the fake Sys's ioctl
// (it adds the partitions), mkfs and the slot writer are recorded, the
// bundle is real and comes from install media. Checks what reaches the disk
// (disk-head.img, a GPT sfdisk reads as the builder's layout), the order of
// the steps, and every refusal's message.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { checkTable } from "../../../src/image/sfdisk.js";
import { diskLayout, MIN_DISK_MIB } from "../../../src/machinery/disk-layout.js";
import { extractBundle, writeBundle } from "../../../src/machinery/upgrade-bundle.js";
import type { EventPayload } from "../../../src/machined/events.js";
import { gptWrites } from "../../../src/machined/install/gpt.js";
import { createInstaller, type InstallPlan } from "../../../src/machined/install/install.js";
import { contentOf } from "../../../src/machined/install/signatures.js";
import type { KexecTarget } from "../../../src/machined/kexec.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { tempDir } from "../helpers.js";
import { fakeBlockTree, host } from "./helpers.js";

const MiB = 1 << 20;
const HEAD_BYTES = 66 * MiB;
const LABELS = ["BIOS", "EFI", "BOOT-A", "BOOT-B", "STATE", "EPHEMERAL"];

/** disk-head.img as the builder makes it, in short: boot code, kiln's GPT for the smallest disk, an ESP marker. */
function fakeHead(path: string): void {
  writeFileSync(path, "");
  truncateSync(path, HEAD_BYTES);
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.from("GRUB boot code"), 0, 14, 0);
  writeSync(fd, Buffer.from([0x55, 0xaa]), 0, 2, 510);
  for (const w of gptWrites(MIN_DISK_MIB * MiB).writes) if (w.offset < HEAD_BYTES) writeSync(fd, w.data, 0, w.data.length, w.offset);
  writeSync(fd, Buffer.from("ESP"), 0, 3, 2 * MiB);
  closeSync(fd);
}

function readAt(path: string, at: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const fd = openSync(path, "r");
  readSync(fd, buf, 0, len, at);
  closeSync(fd);
  return buf;
}

function fill(path: string, at: number, len: number, byte: number): void {
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.alloc(len, byte), 0, len, at);
  closeSync(fd);
}

const config = (install: Record<string, unknown>) => ({ apiVersion: "kiln/v1alpha1", kind: "MachineConfig", machine: { type: "worker", install } }) as unknown as MachineConfig;

/** A machine with a 2 GiB vda (blank unless `prepare` says), install media vdb holding a real bundle, and an installer over it. */
async function harness(t: Test, opts: { vdaBytes?: number; media?: boolean } = {}) {
  const dir = tempDir(t);
  const tree = fakeBlockTree(dir);
  const vda = tree.addDisk("vda", opts.vdaBytes ?? 2048 * MiB);
  if (opts.media ?? true) {
    const files = join(dir, "files");
    mkdirSync(files);
    for (const f of ["k", "i", "m", "c"]) writeFileSync(join(files, f), `${f}\n`);
    const tar = join(dir, "kiln-upgrade.tar");
    await writeBundle(tar, { vmlinuz: join(files, "k"), initramfs: join(files, "i"), manifest: join(files, "m"), cmdline: join(files, "c") }, { version: "0.3.0", kernel: "6.1.0-test", epoch: 0 });
    const vdb = tree.addDisk("vdb", 0);
    writeFileSync(vdb, readFileSync(tar));
    writeFileSync(join(tree.sys, "class/block/vdb/size"), `${Math.ceil(readFileSync(tar).length / 512)}\n`);
  }
  const head = join(dir, "disk-head.img");
  fakeHead(head);
  const work = join(dir, "work");
  const sys = createFakeSys();
  const steps: string[] = [];
  const events: EventPayload[] = [];
  const saved: Record<string, string> = {};
  // BLKRRPART: the kernel finds the six partitions (small stand-ins) and devtmpfs makes their nodes.
  sys.respond("ioctl", () => {
    LABELS.forEach((label, i) => {
      const part = tree.addPartition("vda", i + 1, label, 8 * MiB);
      fill(part, 0, 8 * MiB, 0xff);
    });
    steps.push("reread");
    return 0;
  });
  sys.respond("umount2", (target: string) => {
    for (const f of ["config.yaml", "config.good.yaml"]) if (existsSync(join(target, f))) saved[f] = readFileSync(join(target, f), "utf8");
  });
  const kexecs: { partitions: string[]; target: KexecTarget }[] = [];
  const installer = createInstaller({
    sys,
    log: () => {},
    events: {
      publish: (p) => {
        events.push(p);
        return { id: events.length, time: new Date(), payload: p };
      },
    },
    roots: tree,
    diskHead: head,
    workDir: work,
    extract: (tar, to) => extractBundle(tar, to),
    mkfs: (device, label) => void steps.push(`mkfs ${device.replace(`${tree.dev}/`, "")} ${label}`),
    writeSlot: async (device, label, bundle) => void steps.push(`writeSlot ${device.replace(`${tree.dev}/`, "")} ${label} ${bundle.version}`),
    prepareKexec: async (partitions, target) => {
      kexecs.push({ partitions: partitions.map((p) => `${p.name}=${p.label}`), target });
      return { ok: true, slot: target.slot };
    },
    committedSlot: () => "A",
    mounts: () => "",
    partitionWaitMs: 1000,
  });
  return { dir, tree, vda, head, work, sys, steps, events, saved, kexecs, installer };
}

const run = async (h: Awaited<ReturnType<typeof harness>>, cfg: MachineConfig) => {
  const plan = await h.installer.plan(cfg);
  if (plan.t === "none") throw new Error("expected a plan");
  return { plan, kexec: await h.installer.run(plan, "machine: {}\n") };
};

t.test("installs onto a blank disk: head, GPT for its size, empty partitions, the config, slot A last; then stages slot A", async (t) => {
  const h = await harness(t);
  const { plan, kexec } = await run(h, config({ disk: "/dev/vda" }));
  t.match(plan, { t: "install", disk: { name: "vda", sizeBytes: 2048 * MiB }, content: { t: "blank" }, source: { t: "media", device: join(h.tree.dev, "vdb") } });
  t.same(kexec, { ok: true, slot: "A" });
  t.same(h.steps, ["reread", "mkfs vda4 BOOT-B", "mkfs vda5 STATE", "writeSlot vda3 BOOT-A 0.3.0"], "BOOT-A is written last: its manifest.json marks a finished install");
  t.same(readAt(h.vda, 0, 14).toString(), "GRUB boot code", "disk-head.img at 0");
  t.same(readAt(h.vda, 2 * MiB, 3).toString(), "ESP");
  t.same(checkTable(host("sfdisk", ["-J", h.vda]), diskLayout(2048)), [], "the GPT sfdisk reads is the builder's layout for 2 GiB");
  t.ok(readAt(join(h.tree.dev, "vda6"), 0, 4 * MiB).every((b) => b === 0), "EPHEMERAL's start zeroed");
  t.not(readAt(join(h.tree.dev, "vda6"), 4 * MiB, 1)[0], 0, "and no more");
  t.same(h.saved, { "config.yaml": "machine: {}\n", "config.good.yaml": "machine: {}\n" }, "the config is on STATE, as ApplyConfiguration saves it");
  t.same(h.kexecs, [{ partitions: LABELS.map((l, i) => `vda${i + 1}=${l}`), target: { slot: "A", boot: "committed" } }]);
  t.match(h.sys.argsOf("mount").map((a) => a[0]), [join(h.tree.dev, "vda5")], "STATE mounted to save the config");
  t.notOk(existsSync(h.work), "the unpacked bundle is gone from memory");
  const said = h.events.map((e) => (e.t === "machine" ? `${e.stage}: ${e.message}` : e.t));
  t.match(said, [
    /^booting: install: installing kiln to .*vda \(2\.0 GiB\) from the install media .*vdb$/,
    "booting: install: kiln 0.3.0: the bundle's checksums match",
    "booting: install: boot loader and partition table written: BIOS, EFI, BOOT-A, BOOT-B, STATE, EPHEMERAL",
    /^booting: install: BOOT-B and STATE made empty; EPHEMERAL \(/,
    "booting: install: the config is on STATE",
    /^booting: install: kiln 0\.3\.0 installed on .*vda: slot A written and read back$/,
  ]);
});

t.test("a disk with a file system kiln did not make is refused, naming it, the fix and the other disks", async (t) => {
  const h = await harness(t);
  host("mkfs.ext4", ["-q", "-F", h.vda]);
  await t.rejects(h.installer.plan(config({ disk: "/dev/vda" })), {
    name: "InstallError",
    message: "machine.install.disk: /dev/vda holds an ext4 file system that kiln did not make; set machine.install.wipe: true to erase the whole disk, or name another disk (disks here: vda (2.0 GiB))",
  });
  t.same(h.steps, [], "nothing written");
});

t.test("wipe: true erases the first and last MiB before writing", async (t) => {
  const h = await harness(t);
  host("mkfs.ext4", ["-q", "-F", h.vda]);
  fill(h.vda, 2048 * MiB - MiB, MiB, 0xee);
  const { plan } = await run(h, config({ disk: "/dev/vda", wipe: true }));
  t.match(plan, { t: "install", content: { t: "foreign", what: "an ext4 file system" } });
  t.ok(readAt(h.vda, 2048 * MiB - MiB, MiB - 33 * 512).every((b) => b === 0), "the last MiB is zeros, but for the backup GPT");
  t.equal(readAt(h.vda, 2048 * MiB - 512, 8).toString(), "EFI PART");
  t.same(contentOf(readAt(h.vda, 0, MiB)), { t: "kiln" }, "kiln's now, no ext4 superblock left");
  t.ok(h.events.some((e) => e.t === "machine" && /wiped .*vda \(an ext4 file system\): its first and last MiB are zeros/.test(e.message)));
});

t.test("refusals name the problem and the fix", async (t) => {
  const h = await harness(t);
  h.tree.addDisk("vdc", 512 * MiB);
  h.tree.addPartition("vda", 1, "data", MiB);
  const refuse = (install: Record<string, unknown>) => h.installer.plan(config(install)).then(
    () => "no error",
    (err: Error) => err.message,
  );
  t.equal(await refuse({ disk: "/dev/vdx" }), "machine.install.disk: /dev/vdx does not exist; disks here: vda (2.0 GiB), vdc (0.5 GiB)");
  t.equal(await refuse({ disk: "/dev/vdc" }), `machine.install.disk: /dev/vdc has 0.5 GiB; kiln needs at least ${MIN_DISK_MIB} MiB: name a larger disk (disks here: vda (2.0 GiB), vdc (0.5 GiB))`);
  t.equal(await refuse({ disk: "/dev/vda1" }), "machine.install.disk: /dev/vda1 is a partition; name the whole disk (/dev/vda)");
  t.equal(await refuse({ disk: "/dev/vdb" }), "machine.install.disk: /dev/vdb is the install media (it holds the kiln-upgrade.tar to install); name another disk (disks here: vda (2.0 GiB), vdc (0.5 GiB))");
  t.same(await h.installer.plan(config({})), { t: "none" }, "no disk: nothing to install");
});

t.test("without install media or machine.install.image there is nothing to install", async (t) => {
  const h = await harness(t, { media: false });
  await t.rejects(h.installer.plan(config({ disk: "/dev/vda" })), { message: /^machine\.install: there is no kiln-upgrade\.tar to install from: set machine\.install\.image/ });
});

t.test("a kiln disk whose BOOT-A holds kiln is booted, not written", async (t) => {
  const h = await harness(t);
  const { writes } = gptWrites(2048 * MiB);
  // The table as the installer wrote it before, and its partitions as the kernel shows them.
  const fd = openSync(h.vda, "r+");
  for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
  closeSync(fd);
  LABELS.forEach((l, i) => void h.tree.addPartition("vda", i + 1, l, MiB));
  mkdirSync(join(h.work, "check"), { recursive: true });
  writeFileSync(join(h.work, "check/manifest.json"), "{}"); // what the fake mount of BOOT-A shows
  const before = readAt(h.vda, 0, 4 * MiB);
  const { plan, kexec } = await run(h, config({ disk: "/dev/vda" }));
  t.match(plan, { t: "boot", slot: "A", disk: { name: "vda" } });
  t.same(kexec, { ok: true, slot: "A" });
  t.same(h.steps, [], "nothing written");
  t.same(readAt(h.vda, 0, 4 * MiB), before);
  t.match(h.events.at(-1), { t: "machine", message: /^install: kiln is already installed on .*vda; booting it \(slot A\)$/ });
});

t.test("an image without disk-head.img cannot install itself, and says so", async (t) => {
  const h = await harness(t);
  writeFileSync(h.head, "short");
  const plan = (await h.installer.plan(config({ disk: "/dev/vda" }))) as Exclude<InstallPlan, { t: "none" }>;
  await t.rejects(h.installer.run(plan, ""), { message: /disk-head\.img is 5 bytes, expected 69206016 \(everything before BOOT-A\): the image is damaged; rebuild it$/ });
  t.ok(readAt(h.vda, 0, MiB).every((b) => b === 0), "the disk is untouched");
});
