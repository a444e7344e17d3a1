// From the disk, without a config: maintenance mode, configured over the
// network, a powercycle reboot brings it back configured (STATE), then
// `reset --reboot` wipes STATE and EPHEMERAL and it comes back in
// maintenance mode with a blank /var.
import t from "tap";
import { BOOT_TIMEOUT_MS, consoleFingerprint, consoleOf, createVm, destroyVm, genCluster, kilnctl, on, skip, testImage, waitFor } from "./vm-helpers.js";

const name = "vm-reset";

t.test("powercycle reboot keeps the config; reset wipes it", { skip, timeout: 4 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const cluster = genCluster(name);
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image, ["--disk", "2G"]);
  const insecure = (args: string[]) => kilnctl(["-e", vm.endpoint, "--insecure", ...args], {}, 60_000);
  const maintenance = () => {
    const r = insecure(["version", "-o", "json"]);
    return r.code === 0 && (JSON.parse(r.stdout) as { maintenance: boolean }).maintenance;
  };
  t.ok(maintenance(), "maintenance mode without a config");
  t.equal(insecure(["apply-config", "--cert-fingerprint", consoleFingerprint(vm), "-f", cluster.worker]).code, 0, "configured over the network, to the pinned machine");
  await waitFor("mTLS", () => on(vm, cluster, ["version"]).code === 0, 120_000, 1000);

  const bootId = () => on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim();
  const first = bootId();
  t.equal(on(vm, cluster, ["reboot", "--mode", "powercycle"]).code, 0, "powercycle reboot accepted");
  await waitFor("back after the powercycle", () => {
    const id = bootId();
    return id && id !== first;
  }, BOOT_TIMEOUT_MS, 2000);
  t.pass("back, configured from STATE, over mTLS");

  const r = on(vm, cluster, ["reset", "--reboot", "--graceful"]);
  t.equal(r.code, 0, `reset accepted: ${r.stderr}`);
  await waitFor("maintenance mode after the reset", () => maintenance(), BOOT_TIMEOUT_MS, 2000);
  t.not(on(vm, cluster, ["version"]).code, 0, "the old cluster's certificates no longer work");
  const console = consoleOf(vm);
  t.match(console, /\(STATE\) made anew, empty/, "STATE wiped");
  t.match(console, /\(EPHEMERAL\) blanked/, "EPHEMERAL wiped");
  t.equal((console.match(/formatting \/dev\/vda6 \(EPHEMERAL\) as ext4: first boot/g) ?? []).length, 2, "EPHEMERAL formatted at the first boot and again after the reset");
  t.match(console.slice(console.lastIndexOf("blanked")), /config: state: no config on STATE/, "no config after the reset");
});
