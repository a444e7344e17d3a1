// `cluster create --provisioner sandbox`: validate, build (or reuse) the
// rootfs, lay out the state directory, start the host program detached (it
// leases the address and wires the network) and wait until machined's local
// API answers.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { distDir } from "../../image/paths.js";
import type { PlanBuilder } from "../../image/plan.js";
import { buildRootfs } from "../../image/rootfs.js";
import { imagePaths } from "../../machinery/paths.js";
import type { CreateOptions, MachineInfo } from "../provisioner.js";
import { readMachineConfig } from "../read-config.js";
import { sandboxRange } from "./addresses.js";
import { waitForApi } from "./api.js";
import { stopSandbox } from "./destroy.js";
import { isRunning, liveInfo, tail } from "./live.js";
import { isAlive } from "./proc.js";
import { checkName } from "./name.js";
import { type MachineRecord, readRecord, type StateLayout, stateLayout, writeRecord } from "./state.js";

/** How long createMachine waits for the API by default. */
export const defaultCreateTimeoutMs = 60_000;

/** Creates and starts a sandbox machine; resolves once its API answers. */
export async function createSandbox(opts: CreateOptions): Promise<MachineInfo> {
  const progress = opts.onProgress ?? (() => {});
  checkName(opts.name);
  const layout = stateLayout(opts.name);
  refuseRunning(layout, opts.name);
  const config = opts.configPath === undefined ? undefined : readMachineConfig(opts.configPath).text;
  requireRoot();
  sandboxRange();
  const programs = hostPrograms(distDir());
  progress("building rootfs");
  const rootfs = buildRootfs(opts.controlPlane === undefined ? {} : { extra: controlPlanePrograms(opts.controlPlane) }).dir;
  prepareState(layout, config);
  writeRecord(layout, initialRecord(opts.name, layout, rootfs, programs.stage1));
  progress("starting");
  startHost(layout, programs.host);
  progress("waiting for API");
  await waitUntilUp(layout, opts.timeoutMs ?? defaultCreateTimeoutMs);
  return liveInfo(readRecord(layout)!);
}

/** The Kubernetes control plane's programs are only in the image from `kilnctl image build --kubernetes`: a sandbox adds them from `dir`. */
export const sandboxControlPlanePrograms = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** Adds the control plane's programs from `dir` to the rootfs as /usr/bin/…; refuses naming what is missing. */
function controlPlanePrograms(dir: string): (plan: PlanBuilder) => string[] {
  const files = sandboxControlPlanePrograms.map((name) => ({ name, source: join(dir, name) }));
  const missing = files.filter((f) => !existsSync(f.source)).map((f) => f.name);
  if (missing.length) throw new Error(`--control-plane ${dir}: no ${missing.join(", ")} there; build them with 'bash hack/kubernetes.sh', which prints the directory to give`);
  return (plan) => {
    for (const f of files) plan.file(posix.join(imagePaths.bin, f.name), f.source, "stat", 0o755);
    return files.map((f) => f.source);
  };
}

/** The sandbox needs root: namespaces, mounts, pivot_root. */
function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error("the sandbox provisioner needs root (namespaces, mounts, pivot_root); run kilnctl as root");
}

/** A machine of that name that is running is an error naming it. */
function refuseRunning(layout: StateLayout, name: string): void {
  const rec = readRecord(layout);
  if (rec && isRunning(rec)) {
    throw new Error(`a machine named "${name}" is already running (pid ${rec.pid}, ${layout.dir}); destroy it first`);
  }
}

/** The bundles the host side runs; they must have been built. */
function hostPrograms(dist: string): { host: string; stage1: string } {
  const host = join(dist, "sandbox-host.cjs");
  const stage1 = join(dist, "stage1-sandbox.cjs");
  for (const f of [host, stage1]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` (npx tsx hack/build.ts) first`);
  }
  return { host, stage1 };
}

/** A fresh state directory (a stopped machine of the same name is replaced). */
function prepareState(layout: StateLayout, config: string | undefined): void {
  rmSync(layout.dir, { recursive: true, force: true });
  mkdirSync(layout.platformState, { recursive: true, mode: 0o700 });
  if (config !== undefined) writeFileSync(layout.config, config, { mode: 0o600 });
  writeFileSync(layout.consoleLog, "");
}

/** machine.json before the host program has started anything. */
function initialRecord(name: string, layout: StateLayout, rootfs: string, stage1: string): MachineRecord {
  return {
    name,
    provisioner: "sandbox",
    // The host program fills in the address and endpoint when it has leased them.
    endpoint: "",
    localEndpoint: `unix://${layout.socket}`,
    address: "",
    pid: 0,
    status: "starting",
    stateDir: layout.dir,
    consoleLog: layout.consoleLog,
    rootfs,
    stage1,
    restarts: [],
  };
}

/** Spawns the host program detached (own session, output to host.log). */
function startHost(layout: StateLayout, hostProgram: string): void {
  const out = openSync(layout.hostLog, "a");
  const child = spawn(process.execPath, [hostProgram, layout.dir], { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
}

/** Waits for the API; on failure stops the sandbox and throws with the console's tail. */
async function waitUntilUp(layout: StateLayout, timeoutMs: number): Promise<void> {
  const startedAt = Date.now();
  try {
    await waitForApi(`unix://${layout.socket}`, { timeoutMs, gone: () => goneReason(layout, startedAt) });
  } catch (err) {
    await stopSandbox(layout, { graceMs: 2000 }).catch(() => {});
    const console = tail(layout.consoleLog) || "(empty)";
    throw new Error(`machine ${layout.dir} did not come up: ${(err as Error).message}\n--- console.log (last lines) ---\n${console}`, { cause: err });
  }
}

/** Why the sandbox will not come up any more, or undefined while it may. */
function goneReason(layout: StateLayout, startedAt: number): string | undefined {
  const rec = readRecord(layout);
  if (!rec) return "machine.json disappeared";
  if (rec.status === "stopped") return `the sandbox stopped (${rec.stopReason ?? "no reason recorded"})`;
  // The host program records itself at once; give it a moment before judging.
  if (Date.now() - startedAt > 3000 && !isAlive(rec.host)) return `the host program died (see ${layout.hostLog})`;
  return undefined;
}
