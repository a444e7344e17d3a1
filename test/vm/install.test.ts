// Installing from kernel+initramfs: the VM boots the image directly with a
// disk to install to (/dev/vda) and kiln-upgrade.tar as install media
// (/dev/vdb). With machine.install.disk in the config (fw_cfg) it installs
// onto a blank disk and comes back by kexec from slot A of that disk. A disk
// holding an ext4 file system made on the host is refused, untouched, until
// the config says wipe: true.
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { parse, stringify } from "yaml";
import { BOOT_TIMEOUT_MS, type Cluster, consoleFingerprint, consoleOf, createVm, destroyVm, genCluster, kilnctl, on, onJson, skip, testImage, type Vm, waitFor } from "./vm-helpers.js";

const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/** server.slot from `kilnctl version`, or undefined while the machine does not answer over mTLS. */
function slotOf(vm: Vm, c: Cluster): string | undefined {
  const r = on(vm, c, ["version", "-o", "json", "--timeout", "10s"]);
  if (r.code !== 0) return undefined;
  return list(JSON.parse(r.stdout) as { server: { slot: string } } | { server: { slot: string } }[])[0]?.server.slot;
}

/** The installed machine: slot A, its config, /var and STATE on the disk. */
function checkInstalled(t: Test, vm: Vm, c: Cluster): void {
  t.equal(slotOf(vm, c), "A", "the machine runs slot A of the disk");
  const cfg = on(vm, c, ["get", "config"]);
  t.equal(cfg.code, 0, `GetConfiguration: ${cfg.stderr}`);
  t.match(cfg.stdout, /disk: \/dev\/vda/, "the config it was installed with");
  const mounts = list(onJson<{ source: string; target: string; fstype: string }[]>(vm, c, ["mounts"]));
  const at = (target: string) => mounts.filter((m) => m.target === target).at(-1);
  t.match(at("/var"), { source: "/dev/vda6", fstype: "ext4" }, "/var is EPHEMERAL on the disk");
  t.match(at("/system/state"), { source: "/dev/vda5", fstype: "ext4" }, "STATE is on the disk");
  t.match(on(vm, c, ["read", "/proc/cmdline"]).stdout, /kiln\.slot=A kiln\.boot=committed/);
}

/** The worker config with machine.install set. */
function withInstall(c: Cluster, install: Record<string, unknown>, suffix: string): string {
  const doc = parse(readFileSync(c.worker, "utf8")) as { machine: Record<string, unknown> };
  doc.machine.install = install;
  const file = `${c.worker}.${suffix}.yaml`;
  writeFileSync(file, stringify(doc));
  return file;
}

t.test("installs onto a blank disk and boots it", { skip, timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const name = "install-blank";
  const image = testImage();
  const cluster = genCluster(name, (m) => {
    m.install = { disk: "/dev/vda" };
  });
  t.teardown(() => void destroyVm(name));
  const t0 = Date.now();
  const vm = createVm(name, image, ["--config", cluster.worker, "--install-disk", "2G"]);
  t.comment(`installed and back over mTLS in ${Math.round((Date.now() - t0) / 1000)} s`);
  const console = consoleOf(vm);
  t.comment(console.split("\n").filter((l) => /\] (install|kexec):/.test(l)).join("\n"));
  t.match(console, /install: installing kiln to \/dev\/vda \(2\.0 GiB\) from the install media \/dev\/vdb/);
  t.match(console, /install: kiln \S+ installed on \/dev\/vda: slot A written and read back/);
  t.match(console, /kexec: staged slot A's kernel from \/dev\/vda3 \(committed\)/);
  checkInstalled(t, vm, cluster);
});

t.test("a disk with foreign data is refused without wipe: true", { skip, timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const name = "install-foreign";
  const image = testImage();
  const cluster = genCluster(name);
  const disk = join(cluster.dir, "foreign.raw");
  writeFileSync(disk, "");
  truncateSync(disk, 2 * 2 ** 30);
  execFileSync("mkfs.ext4", ["-q", "-F", disk]);
  t.teardown(() => {
    destroyVm(name);
    rmSync(disk, { force: true });
  });
  const vm = createVm(name, image, ["--install-disk", disk]);
  // The config carries keys: it goes only to the machine whose console fingerprint we pinned.
  const insecure = (args: string[]) => kilnctl(["-e", vm.endpoint, "--insecure", "--cert-fingerprint", consoleFingerprint(vm), ...args], {}, 60_000);

  const missing = insecure(["apply-config", "-f", withInstall(cluster, { disk: "/dev/vdc" }, "missing")]);
  t.not(missing.code, 0, "a missing disk is refused");
  t.match(missing.stderr, "machine.install.disk: /dev/vdc does not exist; disks here: vda (2.0 GiB)");

  const refused = insecure(["apply-config", "-f", withInstall(cluster, { disk: "/dev/vda" }, "nowipe")]);
  t.not(refused.code, 0, "the ext4 disk is refused");
  t.match(refused.stderr, "machine.install.disk: /dev/vda holds an ext4 file system that kiln did not make; set machine.install.wipe: true to erase the whole disk, or name another disk (disks here: vda (2.0 GiB))");
  const magic = Buffer.alloc(2);
  const fd = openSync(disk, "r");
  readSync(fd, magic, 0, 2, 1080);
  closeSync(fd);
  t.equal(magic.readUInt16LE(0), 0xef53, "the disk still holds its ext4 superblock");
  t.equal(JSON.parse(insecure(["version", "-o", "json"]).stdout).maintenance, true, "still in maintenance mode, nothing applied");

  const t0 = Date.now();
  const wiped = insecure(["apply-config", "-f", withInstall(cluster, { disk: "/dev/vda", wipe: true }, "wipe")]);
  t.equal(wiped.code, 0, `apply-config with wipe: true: ${wiped.stderr}`);
  await waitFor("the installed machine over mTLS", () => slotOf(vm, cluster), BOOT_TIMEOUT_MS, 2000);
  t.comment(`installed and back over mTLS in ${Math.round((Date.now() - t0) / 1000)} s`);
  t.comment(consoleOf(vm).split("\n").filter((l) => /\] (install|kexec):/.test(l)).join("\n"));
  t.match(consoleOf(vm), /install: wiped \/dev\/vda \(an ext4 file system\)/);
  checkInstalled(t, vm, cluster);
});
