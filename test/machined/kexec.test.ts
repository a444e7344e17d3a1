// prepareKexec's decisions: no slot or a trial/fallback boot means no kexec
// (and why); a committed boot mounts its BOOT partition (found by GPT name)
// read-only, hands vmlinuz and initramfs to kexec_file_load with the running
// command line, and unmounts. The fake Sys mounts nothing: the "slot" is a
// directory holding the two files.
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Partition } from "../../src/machined/disks.js";
import { prepareKexec } from "../../src/machined/kexec.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { MNT, MS } from "../../src/sys/sys.js";

const partitions: Partition[] = [
  { name: "vda3", device: "/dev/vda3", label: "BOOT-A" },
  { name: "vda4", device: "/dev/vda4", label: "BOOT-B" },
  { name: "vda5", device: "/dev/vda5", label: "STATE" },
];

const scratch: string[] = [];
t.teardown(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A directory standing in for a mounted slot (empty: without its files). */
function slotDir(empty = false): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-kexec-"));
  scratch.push(dir);
  if (empty) return dir;
  writeFileSync(join(dir, "vmlinuz"), "kernel");
  writeFileSync(join(dir, "initramfs"), "initramfs");
  return dir;
}

const committedA = "BOOT_IMAGE=/vmlinuz console=ttyS0 panic=10 quiet kiln.slot=A kiln.boot=committed";

t.test("a machine booted without a disk has no slot to kexec", async (t) => {
  const sys = createFakeSys();
  const r = await prepareKexec({ sys, log: () => {}, cmdline: "console=ttyS0 panic=10 quiet\n", partitions, mountDir: slotDir() });
  t.same(r, { ok: false, why: "the machine did not boot from its disk (no kiln.slot on the kernel command line)" });
  t.same(sys.calls, [], "nothing mounted or loaded");
});

t.test("a trial boot reboots through GRUB", async (t) => {
  const sys = createFakeSys();
  const r = await prepareKexec({ sys, log: () => {}, cmdline: "console=ttyS0 kiln.slot=B kiln.boot=trial", partitions, mountDir: slotDir() });
  t.match(r, { ok: false, why: /slot B is on trial/ });
  t.same(sys.calls, []);
});

t.test("a fallback boot reboots through GRUB", async (t) => {
  const sys = createFakeSys();
  const r = await prepareKexec({ sys, log: () => {}, cmdline: "kiln.slot=A kiln.boot=fallback", partitions, mountDir: slotDir() });
  t.match(r, { ok: false, why: /slot A was booted as fallback/ });
  t.same(sys.calls, []);
});

t.test("a committed boot of slot A loads vmlinuz and initramfs from /dev/vda3, read-only", async (t) => {
  const sys = createFakeSys();
  const dir = slotDir();
  const opened: string[] = [];
  sys.respond("kexecFileLoad", (kernel: number, initrd: number) => {
    opened.push(readlinkSync(`/proc/self/fd/${kernel}`), readlinkSync(`/proc/self/fd/${initrd}`));
  });
  const r = await prepareKexec({ sys, log: () => {}, cmdline: `${committedA}\n`, partitions, mountDir: dir });
  t.same(r, { ok: true, slot: "A" });
  t.same(
    sys.calls.map((c) => c.name),
    ["mount", "kexecFileLoad", "umount2"],
  );
  t.same(sys.argsOf("mount"), [["/dev/vda3", dir, "ext4", MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, undefined]]);
  t.same(sys.argsOf("kexecFileLoad")[0]?.slice(2), [committedA, 0], "the running command line, unchanged");
  t.same(opened, [join(dir, "vmlinuz"), join(dir, "initramfs")], "open descriptors of the slot's files");
  t.same(sys.argsOf("umount2"), [[dir, MNT.DETACH]]);
});

t.test("the slot is found by GPT name, whatever order the partitions come in", async (t) => {
  const sys = createFakeSys();
  const parts = [partitions[1]!, { name: "vdb3", device: "/dev/vdb3", label: "DATA" }];
  const r = await prepareKexec({ sys, log: () => {}, cmdline: "kiln.slot=B kiln.boot=committed", partitions: parts, mountDir: slotDir() });
  t.same(r, { ok: true, slot: "B" });
  t.equal(sys.argsOf("mount")[0]?.[0], "/dev/vda4");
});

t.test("a disk without the slot's partition cannot kexec", async (t) => {
  const sys = createFakeSys();
  const r = await prepareKexec({ sys, log: () => {}, cmdline: committedA, partitions: partitions.slice(1), mountDir: slotDir() });
  t.same(r, { ok: false, why: "the disk has no partition named BOOT-A" });
  t.same(sys.calls, []);
});

t.test("a refused kexec_file_load is explained, and the slot unmounted", async (t) => {
  const sys = createFakeSys();
  sys.failOn("kexecFileLoad", undefined, "EPERM");
  const dir = slotDir();
  const r = await prepareKexec({ sys, log: () => {}, cmdline: committedA, partitions, mountDir: dir });
  t.match(r, { ok: false, why: /EPERM.*locked down/ });
  t.same(sys.argsOf("umount2"), [[dir, MNT.DETACH]]);
});

t.test("a slot without its kernel cannot kexec, and is unmounted", async (t) => {
  const sys = createFakeSys();
  const dir = slotDir(true);
  const r = await prepareKexec({ sys, log: () => {}, cmdline: committedA, partitions, mountDir: dir });
  t.match(r, { ok: false, why: /ENOENT.*vmlinuz/ });
  t.same(sys.argsOf("kexecFileLoad"), []);
  t.same(sys.argsOf("umount2"), [[dir, MNT.DETACH]]);
});

t.test("a slot that will not mount cannot kexec", async (t) => {
  const sys = createFakeSys();
  sys.failOn("mount", undefined, "EINVAL");
  const r = await prepareKexec({ sys, log: () => {}, cmdline: committedA, partitions, mountDir: slotDir() });
  t.match(r, { ok: false, why: /mount.*EINVAL/ });
  t.same(sys.argsOf("umount2"), [], "nothing to unmount");
});
