// Upgrades that must roll back by themselves: a bundle whose initramfs cannot
// boot (the kernel panics, GRUB's grubenv already names the old slot), and a
// build whose containerd never becomes healthy (the trial times out and
// reboots). Each time the machine comes back on slot A, `upgrade --wait` exits
// 6 saying it rolled back, and version and events show the failed attempt.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { BOOT_TIMEOUT_MS, buildImage, createVm, cutBundle, destroyVm, genCluster, kilnctl, skip, testImage, versionOf } from "./vm-helpers.js";

const name = "vm-upgrade-fail";

t.test("bundles that cannot boot or never become healthy roll back by themselves", { skip, timeout: 9 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const cluster = genCluster(name);
  // A build whose containerd is not a program: it boots, but containerd never runs.
  const overlay = join(cluster.dir, "overlay");
  mkdirSync(join(overlay, "usr/bin"), { recursive: true });
  writeFileSync(join(overlay, "usr/bin/containerd"), "not a program\n");
  chmodSync(join(overlay, "usr/bin/containerd"), 0o755);
  const unhealthy = buildImage(`${image}-0.3.0-unhealthy`, ["--version", "0.3.0", "--overlay", overlay]);
  // A bundle whose initramfs is cut short: the kernel finds no /init and panics.
  const broken = await cutBundle(image, join(cluster.dir, "broken.tar"), "0.4.0");

  const env = { KILNCONFIG: cluster.kilnconfig };
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image, ["--config", cluster.worker, "--disk", "2G"]);
  const upgrade = (args: string[]) => kilnctl(["-e", vm.endpoint, "upgrade", ...args], env, 3 * BOOT_TIMEOUT_MS + 180_000);
  const before = versionOf(vm, cluster)!;

  const panics = upgrade(["--image", broken, "--wait"]);
  t.equal(panics.code, 6, `upgrade --wait exits 6 after a rollback: ${panics.stderr}`);
  t.match(panics.stderr, /rolled back/);
  let v = versionOf(vm, cluster)!;
  t.equal(v.server.slot, "A", "back on slot A");
  t.equal(v.server.version, before.server.version);
  t.equal(v.upgrade?.state, "rolled-back");
  t.match(v.upgrade?.reason, /did not boot/, "the record says the new slot did not boot");
  t.equal(v.upgrade?.toVersion, "0.4.0");

  const sick = upgrade(["--image", `${unhealthy}/kiln-upgrade.tar`, "--wait", "--health-timeout", "60s"]);
  t.equal(sick.code, 6, `upgrade --wait exits 6 after a rollback: ${sick.stderr}`);
  v = versionOf(vm, cluster)!;
  t.equal(v.server.slot, "A", "back on slot A");
  t.equal(v.upgrade?.state, "rolled-back");
  t.match(v.upgrade?.reason, /containerd/, "the record names the service that was not healthy");
  const events = kilnctl(["-e", vm.endpoint, "events"], env, 60_000).stdout;
  t.match(events, /rolled back: running slot A/, "events show the failed attempt");
});
