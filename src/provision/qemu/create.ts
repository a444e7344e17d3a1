// `cluster create --provisioner qemu`: boot an image directory in QEMU (KVM
// when it works, TCG otherwise) with apid's port forwarded to 127.0.0.1, pass
// the config by fw_cfg, a config drive or a kernel-command-line URL, and wait
// until apid answers (mTLS when the config carries the machine CA, else
// maintenance mode). With --install-disk it boots kernel+initramfs with a
// disk to install to and the image's kiln-upgrade.tar as install media.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { CreateOptions, MachineInfo } from "../provisioner.js";
import { readMachineConfig } from "../read-config.js";
import { checkName } from "../sandbox/name.js";
import { isAlive, procRef } from "../sandbox/proc.js";
import { readRecord, writeRecord } from "../sandbox/state.js";
import { tail } from "../sandbox/live.js";
import { sleep } from "../sandbox/sleep.js";
import { type Accel, accelCandidates, accelProbeMs } from "./accel.js";
import { accessFor, waitForApid } from "./api.js";
import { qemuArgs } from "./args.js";
import { makeConfigDrive } from "./config-drive.js";
import { diskRawOf, prepareDisk } from "./disk.js";
import { stopVm } from "./destroy.js";
import { liveVmInfo } from "./list.js";
import { type VmLayout, type VmRecord, vmLayout } from "./state.js";

/** How long create waits for apid by default: a TCG boot takes ~15 s; containerd and apid start after. */
export const defaultVmTimeoutMs = 180_000;

export const QEMU = "qemu-system-x86_64";

/** Creates and boots a VM; resolves once its API answers. */
export async function createVm(opts: CreateOptions): Promise<MachineInfo> {
  const progress = opts.onProgress ?? (() => {});
  checkName(opts.name);
  const layout = vmLayout(opts.name);
  const old = readRecord<VmRecord>(layout);
  if (old && isAlive(old.qemu)) throw new Error(`a machine named "${opts.name}" is already running (QEMU pid ${old.pid}, ${layout.dir}); destroy it first`);
  if (opts.configPath !== undefined && opts.configUrl !== undefined) throw new Error("--config and --config-url both pass a config: pick one");
  if (opts.diskBytes !== undefined && opts.configUrl !== undefined) throw new Error("--config-url goes on the kernel command line, which GRUB sets when booting from --disk: use --config");
  if (opts.diskBytes !== undefined && opts.installDisk !== undefined) throw new Error("--disk boots the image's disk.raw, --install-disk boots kernel+initramfs to install onto a disk: pick one");
  if (opts.installDisk && "path" in opts.installDisk && !existsSync(opts.installDisk.path)) throw new Error(`--install-disk ${opts.installDisk.path}: no such file (give a size such as 2G for a new blank disk)`);
  const config = opts.configPath === undefined ? undefined : readMachineConfig(opts.configPath);
  const image = resolveImage(opts, progress);
  rmSync(layout.dir, { recursive: true, force: true });
  mkdirSync(layout.dir, { recursive: true, mode: 0o700 });
  let via = "none";
  let cmdline = readFileSync(join(image, "cmdline"), "utf8").trim();
  if (config) {
    writeFileSync(layout.config, config.text, { mode: 0o600 });
    via = opts.configVia ?? "fw_cfg";
    if (via === "drive") {
      progress("making the config drive");
      makeConfigDrive(layout.config, layout.configDrive);
    }
  } else if (opts.configUrl !== undefined) {
    via = "url";
    cmdline += ` kiln.config=${opts.configUrl}`;
  }
  const port = await freePort();
  const disk = join(layout.dir, "disk.raw");
  if (opts.diskBytes !== undefined) {
    progress("preparing the disk");
    prepareDisk(diskRawOf(image), disk, opts.diskBytes);
  }
  const install = opts.installDisk ? prepareInstall(image, layout, opts.installDisk, progress) : {};
  const boot = opts.diskBytes !== undefined ? { disk } : { kernel: join(image, "kernel"), initramfs: join(image, "initramfs"), cmdline, ...install };
  const base = {
    name: opts.name,
    ...boot,
    memoryMb: opts.memoryMb ?? 2048,
    cpus: opts.cpus ?? 2,
    ...(opts.rtcBase ? { rtcBase: opts.rtcBase } : {}),
    consoleLog: layout.consoleLog,
    monitor: layout.monitor,
    port,
    ...(via === "fw_cfg" ? { fwCfgConfig: layout.config } : {}),
    ...(via === "drive" ? { configDrive: layout.configDrive } : {}),
  };
  const { child, accel } = await startQemu(layout, base, progress);
  const ref = procRef(child.pid!);
  const rec: VmRecord = {
    name: opts.name,
    provisioner: "qemu",
    endpoint: `127.0.0.1:${port}`,
    localEndpoint: "",
    address: "10.0.2.15",
    pid: child.pid!,
    status: "running",
    stateDir: layout.dir,
    consoleLog: layout.consoleLog,
    port,
    accel,
    image,
    configVia: via,
    ...(ref ? { qemu: ref } : {}),
  };
  writeRecord(layout, rec);
  progress(`waiting for apid (${accel})`);
  const access = accessFor(config?.parsed);
  try {
    await waitForApid(port, access, {
      timeoutMs: opts.timeoutMs ?? defaultVmTimeoutMs,
      gone: () => goneReason(rec, layout),
      wantConfigured: config !== undefined || opts.configUrl !== undefined ? access.t === "mtls" : false,
    });
  } catch (err) {
    await stopVm(layout, { graceMs: 0 }).catch(() => {});
    throw new Error(`machine ${opts.name} did not come up: ${(err as Error).message}\n--- console.log (last lines) ---\n${tail(layout.consoleLog) || "(empty)"}`, { cause: err });
  }
  return liveVmInfo(rec);
}

/** The image to boot: --image DIR, checked. */
export function resolveImage(opts: Pick<CreateOptions, "imageDir">, progress: (s: string) => void): string {
  const dir = opts.imageDir;
  if (!dir) throw new Error("the qemu provisioner needs --image DIR (kilnctl image build --out DIR makes one)");
  const missing = ["kernel", "initramfs", "cmdline"].filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw new Error(`${dir} is not a kiln image: ${missing.join(", ")} missing (kilnctl image build --out ${dir})`);
  progress(`image ${dir}`);
  return dir;
}

/** The disk to install to (a new sparse file in the VM's directory, or the file given) and the image's bundle as media. */
function prepareInstall(image: string, layout: VmLayout, want: { sizeBytes: number } | { path: string }, progress: (s: string) => void) {
  const media = join(image, "kiln-upgrade.tar");
  if (!existsSync(media)) throw new Error(`${image} has no kiln-upgrade.tar (the install media): rebuild it with kilnctl image build`);
  if ("path" in want) {
    progress(`install disk ${want.path} (used in place)`);
    return { installDisk: want.path, installMedia: media };
  }
  const file = join(layout.dir, "install-disk.raw");
  progress(`a blank ${Math.round(want.sizeBytes / 2 ** 20)} MiB install disk`);
  writeFileSync(file, "");
  truncateSync(file, want.sizeBytes);
  return { installDisk: file, installMedia: media };
}

/** A TCP port on 127.0.0.1 nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts QEMU detached with the first accelerator that keeps it alive. */
export async function startQemu(
  layout: VmLayout,
  base: Omit<Parameters<typeof qemuArgs>[0], "accel">,
  progress: (s: string) => void,
): Promise<{ child: ChildProcess; accel: Accel }> {
  requireQemu();
  const candidates = accelCandidates();
  const failures: string[] = [];
  for (const accel of candidates) {
    progress(`starting QEMU (${accel})`);
    writeFileSync(layout.qemuLog, "");
    const log = openSync(layout.qemuLog, "a");
    const child = spawn(QEMU, qemuArgs({ ...base, accel }), { detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    child.unref();
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const last = accel === candidates[candidates.length - 1];
    const early = await Promise.race([exited, sleep(last ? 300 : accelProbeMs).then(() => "alive" as const)]);
    if (early === "alive") return { child, accel };
    failures.push(`${accel}: QEMU exited (${early}): ${tail(layout.qemuLog, 5) || "no output"}`);
  }
  throw new Error(`QEMU would not start:\n  ${failures.join("\n  ")}`);
}

export function requireQemu(): void {
  try {
    execFileSync(QEMU, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`${QEMU} is not installed: apt-get install qemu-system-x86`);
  }
}

/** Why the VM will not come up any more, or undefined while it may. */
export function goneReason(rec: VmRecord, layout: VmLayout): string | undefined {
  if (!isAlive(rec.qemu)) return `QEMU exited (${tail(layout.qemuLog, 5) || "no output"})`;
  const console = tail(layout.consoleLog, 200);
  if (/stage1: fatal:|Kernel panic/.test(console)) return "the machine failed to boot (see the console log)";
  return undefined;
}
