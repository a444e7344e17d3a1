// The QEMU provisioner's pure parts: the command line, the choice of
// accelerator, and a real config drive made with dosfstools and mtools.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { accelCandidates } from "../../src/provision/qemu/accel.js";
import { type QemuArgs, qemuArgs } from "../../src/provision/qemu/args.js";
import { makeConfigDrive } from "../../src/provision/qemu/config-drive.js";

/** A scratch directory removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-qemu-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const base: QemuArgs = {
  name: "kiln-w1",
  accel: "kvm",
  kernel: "/img/vmlinuz",
  initramfs: "/img/initramfs.cpio.zst",
  cmdline: "console=ttyS0 kiln.platform=metal",
  memoryMb: 2048,
  cpus: 2,
  consoleLog: "/state/w1/console.log",
  port: 50123,
};

/** The value following `flag` each time it appears. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}

t.test("qemuArgs under KVM uses the host CPU", async (t) => {
  const args = qemuArgs(base);
  t.same(values(args, "-accel"), ["kvm"]);
  t.same(values(args, "-cpu"), ["host"]);
});

t.test("qemuArgs under TCG uses the max CPU model", async (t) => {
  const args = qemuArgs({ ...base, accel: "tcg" });
  t.same(values(args, "-accel"), ["tcg"]);
  t.same(values(args, "-cpu"), ["max"]);
});

t.test("qemuArgs boots the kernel directly with the serial console to the log", async (t) => {
  const args = qemuArgs(base);
  t.same(values(args, "-kernel"), ["/img/vmlinuz"]);
  t.same(values(args, "-initrd"), ["/img/initramfs.cpio.zst"]);
  t.same(values(args, "-append"), ["console=ttyS0 kiln.platform=metal"]);
  t.same(values(args, "-serial"), ["file:/state/w1/console.log"]);
  t.same(values(args, "-m"), ["2048"]);
  t.same(values(args, "-smp"), ["2"]);
  t.same(values(args, "-name"), ["kiln-w1"]);
});

t.test("qemuArgs forwards the host port on loopback to apid's 50000", async (t) => {
  const [netdev] = values(qemuArgs(base), "-netdev");
  t.match(netdev, /(^|,)hostfwd=tcp:127\.0\.0\.1:50123-:50000(,|$)/);
});

t.test("qemuArgs passes no config unless given one", async (t) => {
  const args = qemuArgs(base);
  t.same(values(args, "-fw_cfg"), []);
  t.same(values(args, "-drive"), []);
});

t.test("qemuArgs passes a config file as fw_cfg opt/kiln/config", async (t) => {
  t.same(values(qemuArgs({ ...base, fwCfgConfig: "/state/w1/config.yaml" }), "-fw_cfg"), ["name=opt/kiln/config,file=/state/w1/config.yaml"]);
});

t.test("qemuArgs attaches a config drive as a read-only raw virtio drive", async (t) => {
  const [drive] = values(qemuArgs({ ...base, configDrive: "/state/w1/config.img" }), "-drive");
  t.same(drive?.split(",").sort(), ["file=/state/w1/config.img", "format=raw", "if=virtio", "readonly=on"]);
});

t.test("qemuArgs starts the RTC where asked, and at QEMU's default otherwise", async (t) => {
  t.same(values(qemuArgs({ ...base, rtcBase: "2025-01-31T12:00:00" }), "-rtc"), ["base=2025-01-31T12:00:00"]);
  t.same(values(qemuArgs(base), "-rtc"), []);
});

t.test("KILN_QEMU_ACCEL forces one accelerator whatever the device", async (t) => {
  t.same(accelCandidates({ KILN_QEMU_ACCEL: "tcg" }, "/nonexistent/kvm"), ["tcg"]);
  t.same(accelCandidates({ KILN_QEMU_ACCEL: "kvm" }, "/nonexistent/kvm"), ["kvm"]);
});

t.test("a bad KILN_QEMU_ACCEL is refused, naming it", async (t) => {
  t.throws(() => accelCandidates({ KILN_QEMU_ACCEL: "hvf" }, "/nonexistent/kvm"), { message: /KILN_QEMU_ACCEL=hvf: expected kvm or tcg/ });
});

t.test("no usable /dev/kvm means TCG only", async (t) => {
  t.same(accelCandidates({}, "/nonexistent/kvm"), ["tcg"], "missing");
  const dir = scratch(t);
  const locked = join(dir, "kvm");
  writeFileSync(locked, "", { mode: 0o000 });
  // root reads anything: the unreadable case only holds for other users
  if (process.getuid?.() !== 0) t.same(accelCandidates({}, locked), ["tcg"], "unreadable");
});

t.test("a readable and writable device means KVM first, then TCG", async (t) => {
  const kvm = join(scratch(t), "kvm");
  writeFileSync(kvm, "");
  t.same(accelCandidates({}, kvm), ["kvm", "tcg"]);
});

/** True when dosfstools and mtools are here; otherwise skipped (failed on CI). */
function hasDriveTools(t: Test): boolean {
  const missing = ["mkfs.vfat", "mcopy", "mtype", "mlabel"].find((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (!missing) return true;
  const msg = `${missing} is not installed: apt-get install dosfstools mtools`;
  if (process.env.CI === "true") t.fail(msg);
  else t.plan(0, msg);
  return false;
}

t.test("makeConfigDrive writes a 2 MiB FAT image labelled KILN-CONFIG holding config.yaml", async (t) => {
  if (!hasDriveTools(t)) return;
  const dir = scratch(t);
  const config = join(dir, "worker.yaml");
  const img = join(dir, "config.img");
  const content = "version: v1alpha1\nmachine:\n  type: worker\n";
  writeFileSync(config, content);
  writeFileSync(img, "stale image to be replaced");
  makeConfigDrive(config, img);
  t.equal(statSync(img).size, 2 * 2 ** 20);
  t.equal(execFileSync("mtype", ["-i", img, "::config.yaml"], { encoding: "utf8" }), content);
  t.match(execFileSync("mlabel", ["-i", img, "-s", "::"], { encoding: "utf8" }), /Volume label is KILN-CONFIG\s*$/);
});

t.test("parseSize and prepareDisk's refusal of a disk smaller than the image", async (t) => {
  const { parseSize, prepareDisk } = await import("../../src/provision/qemu/disk.js");
  t.equal(parseSize("4G"), 4 * 2 ** 30);
  t.equal(parseSize("512M"), 512 * 2 ** 20);
  t.equal(parseSize("2048"), 2048 * 2 ** 20, "a bare number is MiB");
  t.equal(parseSize("1GiB"), 2 ** 30);
  for (const bad of ["", "0", "-1G", "4X", "lots"]) t.equal(parseSize(bad), undefined, `"${bad}" is not a size`);
  const dir = scratch(t);
  writeFileSync(join(dir, "disk.raw"), Buffer.alloc(3 * 2 ** 20));
  t.throws(() => prepareDisk(join(dir, "disk.raw"), join(dir, "copy.raw"), 2 * 2 ** 20), /--disk 2M is smaller than the image's disk\.raw \(3M\)/);
});
