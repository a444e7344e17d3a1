// A config write cut short by killing QEMU at a random moment must never
// leave STATE unreadable: six times, a config is applied and QEMU killed
// (SIGKILL: no flush, no unmount) 0–1.5 s later, and the next boot must come
// up configured from STATE — with the old config or the new one, never the
// fw_cfg config the first boot had (which it would fall back to if STATE had
// no readable config). Booted from kernel+initramfs with the disk attached,
// as that is the quickest boot that mounts STATE from a disk.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { parse, stringify } from "yaml";
import { prepareDisk } from "../../src/provision/qemu/disk.js";
import { alive, consoleOf, createVm, destroyVm, genCluster, kilnctlBin, on, onJson, skip, testImage, type Vm, waitFor } from "./vm-helpers.js";

const name = "vm-state-crash";
// Each round is a cold boot under TCG (~40 s). The kill moments are spread
// over the window, one random moment in each sixth of it, rather than drawn
// from the whole of it: six rounds reach every part of the window, which ten
// independent draws did not promise.
const ROUNDS = 6;
const WINDOW_MS = 1500;

t.test(`${ROUNDS} config writes cut short by killing QEMU never leave STATE unreadable`, { skip, timeout: (ROUNDS + 2) * 120_000 }, async (t) => {
  const image = testImage();
  const cluster = genCluster(name, (m) => {
    m.hostname = "crash-fwcfg";
  });
  const disk = join(cluster.dir, "disk.raw");
  prepareDisk(join(image, "disk.raw"), disk, 2 * 2 ** 30);
  t.teardown(() => void destroyVm(name));
  const boot = () => createVm(name, image, ["--config", cluster.worker, "--install-disk", disk]);
  const doc = parse(readFileSync(cluster.worker, "utf8")) as { machine: Record<string, unknown> };
  const apply = (vm: Vm, hostname: string) => {
    const file = join(cluster.dir, `${hostname}.yaml`);
    writeFileSync(file, stringify({ ...doc, machine: { ...doc.machine, hostname } }));
    return new Promise<void>((resolve) => execFile(process.execPath, [kilnctlBin, "-e", vm.endpoint, "apply-config", "-f", file], { env: { ...process.env, KILNCONFIG: cluster.kilnconfig } }, () => resolve()));
  };
  const hostname = (vm: Vm) => onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname;

  let vm = boot();
  await apply(vm, "crash-base");
  await waitFor("the applied hostname", () => hostname(vm) === "crash-base", 60_000, 1000);
  let last = "crash-base";
  for (let i = 0; i < ROUNDS; i++) {
    const next = `crash-${i}`;
    const delay = Math.floor(((i + Math.random()) * WINDOW_MS) / ROUNDS);
    void apply(vm, next);
    await new Promise((r) => setTimeout(r, delay));
    process.kill(vm.pid, "SIGKILL");
    await waitFor("QEMU gone", () => !alive(vm.pid), 30_000, 200);
    destroyVm(name);
    vm = boot();
    const got = await waitFor("a hostname", () => {
      try {
        return hostname(vm);
      } catch {
        return undefined;
      }
    }, 60_000, 1000);
    t.ok([last, next].includes(got), `round ${i + 1} (killed ${delay} ms after the apply): the machine booted with ${got}, from STATE (old ${last} or new ${next})`);
    t.match(consoleOf(vm), /config: state: found/, "its config came from STATE");
    t.notOk(on(vm, cluster, ["version"]).stdout.includes("maintenance: true"));
    last = got;
  }
});
