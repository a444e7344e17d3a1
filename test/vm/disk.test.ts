// Booting from the image's disk.raw (GRUB, slot A) grown to 2 GiB: STATE and
// EPHEMERAL are mounted from the disk, a config applied over the API is kept
// on STATE and wins over fw_cfg after a reboot, and /var keeps what was
// written before the reboot.
import { readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { parse, stringify } from "yaml";
import { alive, BOOT_TIMEOUT_MS, consoleOf, createVm, destroyVm, genCluster, on, onJson, skip, testImage, waitFor } from "./vm-helpers.js";

const name = "vm-disk";
const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

t.test("boot from disk.raw; config and /var survive a reboot", { skip, timeout: 3 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const cluster = genCluster(name, (m) => {
    m.hostname = "kiln-disk-fwcfg";
    m.files = [{ path: "/var/lib/kiln-test/boots.txt", content: "boot\n", op: "append" }];
  });
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image, ["--config", cluster.worker, "--disk", "2G"]);

  const mounts = list(onJson<{ source: string; target: string; fstype: string }[]>(vm, cluster, ["mounts"]));
  const at = (target: string) => mounts.filter((m) => m.target === target).at(-1);
  t.equal(at("/system/state")?.fstype, "ext4", "STATE is on the disk");
  t.match(at("/system/state")?.source ?? "", /^\/dev\/vda\d$/);
  t.equal(at("/var")?.fstype, "ext4", "EPHEMERAL is /var");
  t.match(on(vm, cluster, ["read", "/proc/cmdline"]).stdout, /kiln\.slot=A/, "GRUB booted slot A");
  const version = list(onJson<{ server: { version: string; slot: string }; slots: { name: string; version: string; active: boolean }[] }>(vm, cluster, ["version"]))[0]!;
  t.equal(version.server.slot, "A", "version says slot A runs");
  t.ok(version.server.version, "and the running version");
  t.same(version.slots, [{ name: "A", version: version.server.version, active: true }, { name: "B", version: "", active: false }], "slot A holds it, B is empty");
  t.equal(on(vm, cluster, ["read", "/var/lib/kiln-test/boots.txt"]).stdout, "boot\n");

  // A config applied over the API is written to STATE...
  const doc = parse(readFileSync(cluster.worker, "utf8")) as { machine: Record<string, unknown> };
  doc.machine.hostname = "kiln-disk-applied";
  const applied = `${cluster.worker}.applied.yaml`;
  writeFileSync(applied, stringify(doc));
  const r = on(vm, cluster, ["apply-config", "-f", applied]);
  t.equal(r.code, 0, `apply-config: ${r.stderr}`);
  await waitFor("the new hostname", () => onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname === "kiln-disk-applied", 60_000, 1000);

  // ...and after a reboot it is what the machine boots with, ahead of fw_cfg.
  const bootId = on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim();
  t.equal(on(vm, cluster, ["reboot"]).code, 0, "reboot accepted");
  await waitFor(
    "the machine back after the reboot",
    () => {
      const id = on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim();
      return id && id !== bootId ? id : undefined;
    },
    BOOT_TIMEOUT_MS,
    2000,
  );
  t.ok(alive(vm.pid), "the same QEMU: a reboot");
  t.match(consoleOf(vm), /kexec: staged slot A's kernel/, "reboot --mode default (the default) kexecs into slot A's kernel");
  t.equal(onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname, "kiln-disk-applied", "the config on STATE survived the reboot");
  t.equal(on(vm, cluster, ["read", "/var/lib/kiln-test/boots.txt"]).stdout, "boot\nboot\n", "/var kept the first boot's line");
});
