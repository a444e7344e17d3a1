// The qemu provisioner's install setup: --install-disk boots kernel+initramfs
// with the disk to install to first (/dev/vda) and the image's
// kiln-upgrade.tar read-only second (/dev/vdb); the flag takes a size (a
// new blank disk) or an existing file, and is not --disk.
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { qemuArgs } from "../../src/provision/qemu/args.js";
import { createFakeDeps } from "../cli/fixtures/fake-deps.js";

const base = { name: "i", accel: "tcg" as const, kernel: "/img/kernel", initramfs: "/img/initramfs", cmdline: "console=ttyS0", memoryMb: 2048, cpus: 2, consoleLog: "/c.log", port: 50001 };

/** Runs kilnctl with fake deps; returns the exit code, stderr and what the provisioner was asked. */
async function run(args: string[]) {
  const deps = createFakeDeps();
  const code = await runCli(args, deps);
  return { code, err: deps.err(), created: deps.created };
}

t.test("the install disk is the first virtio drive, the media the second and read-only", async (t) => {
  const args = qemuArgs({ ...base, installDisk: "/vm/install-disk.raw", installMedia: "/img/kiln-upgrade.tar", configDrive: "/vm/drive.img" });
  const drives = args.flatMap((a, i) => (a === "-drive" ? [args[i + 1]] : []));
  t.same(drives, [
    "file=/vm/install-disk.raw,format=raw,if=virtio,cache=unsafe",
    "file=/img/kiln-upgrade.tar,if=virtio,format=raw,readonly=on",
    "file=/vm/drive.img,if=virtio,format=raw,readonly=on",
  ]);
  t.ok(args.includes("-kernel"), "kernel+initramfs boot directly");
});

t.test("--install-disk takes a size or an existing file; not with --disk, not for the sandbox", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "kiln-install-flag-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const size = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--image", "img", "--install-disk", "2G"]);
  t.match(size.created[0], { installDisk: { sizeBytes: 2 * 2 ** 30 } });
  const file = join(dir, "foreign.raw");
  writeFileSync(file, "");
  const path = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--image", "img", "--install-disk", file]);
  t.match(path.created[0], { installDisk: { path: file } });
  const missing = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--install-disk", join(dir, "nope.raw")]);
  t.equal(missing.code, 2);
  t.match(missing.err, /--install-disk: expected a size such as 2G or an existing disk image file, got ".*nope\.raw"/);
  const both = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--disk", "4G", "--install-disk", "2G"]);
  t.equal(both.code, 2);
  t.match(both.err, /--install-disk: --disk boots the image's disk\.raw; --install-disk boots kernel\+initramfs to install onto a disk: pick one/);
  const sandbox = await run(["cluster", "create", "--name", "s", "--install-disk", "2G"]);
  t.equal(sandbox.code, 2);
  t.match(sandbox.err, /--install-disk: only the qemu provisioner takes it/);
});
