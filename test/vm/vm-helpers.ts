// Drives real QEMU VMs for the vm tier: the image built once per run
// (KILN_TEST_IMAGE, else built here), a cluster generated with kilnctl, and
// kilnctl over mTLS through the forwarded port. QEMU runs under KVM when it
// works and TCG otherwise, so timeouts allow for a slow software-emulated boot.
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { writeBundle } from "../../src/machinery/upgrade-bundle.js";
import { scratchDir } from "../fixtures/scratch.js";

const root = resolve(import.meta.dirname, "../..");
export const kilnctlBin = join(root, "bin/kilnctl.js");

/** A create or boot under TCG: kernel, two node starts, containerd. */
export const BOOT_TIMEOUT_MS = 240_000;

/** What the tier needs; on CI a missing one fails instead of skipping. */
export function vmPrereqs(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  for (const tool of ["qemu-system-x86_64", "mksquashfs", "mkfs.vfat", "mcopy"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
  }
  return false;
}

/** Skip reason for a tap test: none on CI (a missing prerequisite must fail there). */
export const skip = process.env.CI === "true" ? false : vmPrereqs();

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kilnctl; never throws. */
export function kilnctl(args: string[], env: NodeJS.ProcessEnv = {}, timeout = BOOT_TIMEOUT_MS + 30_000): Ran {
  const r = spawnSync(process.execPath, [kilnctlBin, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let ownImage: string | undefined;

/** The image directory the tier boots: $KILN_TEST_IMAGE, else built once per test process into a scratch directory. */
export function testImage(): string {
  // A scratch directory for this test process's images (this one, and the variants built beside it): gone when it exits.
  ownImage ??= process.env.KILN_TEST_IMAGE || join(scratchDir("kiln-image-"), "image");
  return buildImage(ownImage, []);
}

export interface Cluster {
  dir: string;
  kilnconfig: string;
  worker: string;
}

/** kilnctl gen config into a scratch directory; `patch` edits standalone.yaml's machine section (one machine: a worker holding the machine CA's key). */
export function genCluster(name: string, patch: (machine: Record<string, unknown>) => void = () => {}): Cluster {
  const dir = scratchDir(`kiln-${name}-`);
  const r = kilnctl(["gen", "config", "--name", name, "--endpoint", "127.0.0.1", "--out", dir]);
  if (r.code !== 0) throw new Error(`gen config failed: ${r.stderr}`);
  const worker = join(dir, "standalone.yaml");
  const doc = parse(readFileSync(worker, "utf8")) as { machine: Record<string, unknown> };
  patch(doc.machine);
  writeFileSync(worker, stringify(doc));
  return { dir, kilnconfig: join(dir, "kilnconfig"), worker };
}

export interface Vm {
  name: string;
  endpoint: string;
  pid: number;
  stateDir: string;
  consoleLog: string;
}

/** cluster create --provisioner qemu; throws with kilnctl's message (which carries the console's tail). */
export function createVm(name: string, image: string, extra: string[] = []): Vm {
  kilnctl(["cluster", "destroy", "--name", name]);
  const r = kilnctl(["cluster", "create", "--provisioner", "qemu", "--name", name, "--image", image, "--wait-timeout", `${BOOT_TIMEOUT_MS / 1000}s`, ...extra, "-o", "json"]);
  if (r.code !== 0) throw new Error(`cluster create ${name} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Vm;
}

/** createVm without blocking this process's event loop (for tests that serve the config themselves). */
export async function createVmAsync(name: string, image: string, extra: string[] = []): Promise<{ vm?: Vm; ran: Ran }> {
  kilnctl(["cluster", "destroy", "--name", name]);
  const args = ["cluster", "create", "--provisioner", "qemu", "--name", name, "--image", image, "--wait-timeout", `${BOOT_TIMEOUT_MS / 1000}s`, ...extra, "-o", "json"];
  const ran = await new Promise<Ran>((resolve) => {
    execFile(process.execPath, [kilnctlBin, ...args], { encoding: "utf8", timeout: BOOT_TIMEOUT_MS + 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
  return ran.code === 0 ? { vm: JSON.parse(ran.stdout) as Vm, ran } : { ran };
}

export function destroyVm(name: string): Ran {
  return kilnctl(["cluster", "destroy", "--name", name]);
}

/** kilnctl against the VM over mTLS with the cluster's kilnconfig. */
export function on(vm: Vm, c: Cluster, args: string[]): Ran {
  return kilnctl(["-e", vm.endpoint, ...args], { KILNCONFIG: c.kilnconfig }, 60_000);
}

/** Like `on`, expecting success, parsing -o json. */
export function onJson<T>(vm: Vm, c: Cluster, args: string[]): T {
  const r = on(vm, c, [...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kilnctl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The VM's serial console so far. */
export function consoleOf(vm: Vm): string {
  try {
    return readFileSync(vm.consoleLog, "utf8");
  } catch {
    return "";
  }
}

/** The apid certificate fingerprint the console showed last in maintenance mode: what an operator pins with --cert-fingerprint. */
export function consoleFingerprint(vm: Vm): string {
  const fp = [...consoleOf(vm).matchAll(/apid certificate fingerprint ([0-9a-f]{64})/g)].at(-1)?.[1];
  if (!fp) throw new Error(`${vm.name}: no apid certificate fingerprint on the console`);
  return fp;
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export { waitFor } from "../sandbox/sandbox-helpers.js";

/** The machine's version as `kilnctl version -o json` has it (one node). */
export interface VersionJson {
  server: { version: string; slot: string };
  slots: { name: string; version: string; active: boolean }[];
  upgrade?: { state: string; fromSlot: string; fromVersion: string; toSlot: string; toVersion: string; reason: string };
}

/** `kilnctl version -o json`, or undefined while the machine does not answer. */
export function versionOf(vm: Vm, c: Cluster): VersionJson | undefined {
  const r = on(vm, c, ["version", "-o", "json", "--timeout", "10s"]);
  if (r.code !== 0) return undefined;
  const v = JSON.parse(r.stdout) as VersionJson | VersionJson[];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Builds an image (the tier's, or another beside it: `--version` and more)
 * into `out`, unless a complete one is there already (hack/test.sh builds the
 * tier's two; an earlier file of this run may have built another). The tier
 * runs two files at once, so the build goes to a directory of its own and is
 * renamed into place: a file that finds `out` boots a complete image, never
 * one still being written.
 */
export function buildImage(out: string, args: string[]): string {
  const complete = () => existsSync(join(out, "kiln-upgrade.tar")); // the builder's last file
  if (complete()) return out;
  const building = `${out}.building-${process.pid}`;
  const r = kilnctl(["image", "build", "--out", building, ...args], {}, 900_000);
  if (r.code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`kilnctl image build ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  }
  try {
    renameSync(building, out);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    // another file's build got there first: boot that one
    if (!complete()) throw new Error(`${out} holds an incomplete image (no kiln-upgrade.tar): remove it and run again (${err})`);
  }
  return out;
}

/**
 * An upgrade bundle of `image`'s kernel and only the first `bytes` of its
 * initramfs, as kiln `version` (at `out`): small to upload (~12 MiB against
 * ~120 MiB), and a kernel that boots it finds no /init and panics.
 */
export async function cutBundle(image: string, out: string, version: string, bytes = 4 << 20): Promise<string> {
  const cut = `${out}.initramfs`;
  writeFileSync(cut, readFileSync(join(image, "initramfs")).subarray(0, bytes));
  const manifest = `${out}.manifest.json`;
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(join(image, "manifest.json"), "utf8")), kiln: version }));
  await writeBundle(out, { vmlinuz: join(image, "kernel"), initramfs: cut, manifest, cmdline: join(image, "cmdline") }, { version, kernel: "broken", epoch: 0 });
  return out;
}
