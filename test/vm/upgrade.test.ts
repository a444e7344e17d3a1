// Upgrade on a disk-booted VM: a bundle with a bad checksum is refused before
// anything is written; a newer build (another --version) is uploaded, written
// to slot B, booted on trial and committed; `rollback` returns to slot A.
import { readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { BOOT_TIMEOUT_MS, buildImage, consoleOf, createVm, cutBundle, destroyVm, genCluster, kilnctl, skip, testImage, versionOf, waitFor } from "./vm-helpers.js";

const name = "vm-upgrade";

/** A copy of a bundle with one byte of `entry`'s contents changed (its listed sha256 kept). */
export function corruptEntry(tar: string, entry: string, out: string): string {
  const b = readFileSync(tar);
  for (let at = 0; at + 512 <= b.length; ) {
    const name = b.subarray(at, at + 100).toString("latin1").replace(/\0.*$/s, "");
    const size = Number.parseInt(b.subarray(at + 124, at + 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
    if (name === entry) {
      b[at + 512 + Math.floor(size / 2)]! ^= 0xff;
      writeFileSync(out, b);
      return out;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tar} has no entry ${entry}`);
}

t.test("upgrade to a newer build, then roll back", { skip, timeout: 6 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const newer = buildImage(`${image}-0.2.0`, ["--version", "0.2.0"]);
  const cluster = genCluster(name);
  const env = { KILNCONFIG: cluster.kilnconfig };
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image, ["--config", cluster.worker, "--disk", "2G"]);
  const upgrade = (args: string[]) => kilnctl(["-e", vm.endpoint, "upgrade", ...args], env, 2 * BOOT_TIMEOUT_MS + 120_000);
  const before = versionOf(vm, cluster)!;
  t.equal(before.server.slot, "A");

  // What is refused is a checksum, which a small bundle shows as well as a
  // full one: ~12 MiB to upload rather than ~130 (~30 s under TCG).
  const small = await cutBundle(image, `${cluster.dir}/small.tar`, "0.2.0");
  const bad = corruptEntry(small, "initramfs", `${cluster.dir}/bad.tar`);
  const refused = upgrade(["--image", bad]);
  t.not(refused.code, 0, "a bundle with a bad checksum is refused");
  t.match(refused.stderr, /initramfs: sha256/, `it says which file and why: ${refused.stderr}`);
  t.same(versionOf(vm, cluster)!.slots.find((s) => s.name === "B"), { name: "B", version: "", active: false }, "slot B was not written");

  const up = upgrade(["--image", `${newer}/kiln-upgrade.tar`, "--wait"]);
  t.equal(up.code, 0, `upgrade --wait: ${up.stderr}`);
  t.match(up.stderr, /verify/);
  const after = versionOf(vm, cluster)!;
  t.equal(after.server.version, "0.2.0", "the new version runs");
  t.equal(after.server.slot, "B", "on slot B");
  t.equal(after.upgrade?.state, "committed", "and it is committed");
  t.same(after.slots, [{ name: "A", version: before.server.version, active: false }, { name: "B", version: "0.2.0", active: true }]);
  t.match(consoleOf(vm), /kexec: staged slot B's kernel from \/dev\/vda4 \(trial\)/, "the trial was booted by kexec");

  const rb = kilnctl(["-e", vm.endpoint, "rollback", "-o", "json"], env, 60_000);
  t.equal(rb.code, 0, `rollback: ${rb.stderr}`);
  const back = await waitFor("slot A again", () => {
    const v = versionOf(vm, cluster);
    return v?.server.slot === "A" ? v : undefined;
  }, BOOT_TIMEOUT_MS, 2000);
  t.equal(back.server.version, before.server.version, "rollback returned the old version");
  t.equal(back.upgrade?.state, "rolled-back");
});
