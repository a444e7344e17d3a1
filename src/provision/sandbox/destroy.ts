// `cluster destroy`: ask machined to shut down, wait for the host program to
// see PID 1 power off, escalate to SIGTERM and SIGKILL when it does not, then
// give back the machine's address and remove its cgroup subtree (the host
// program does both itself unless it was killed; whatever still runs in the
// subtree is killed first) and the state directory. The veth pair needs no
// removing: it goes with the sandbox's network namespace.
import { rmSync } from "node:fs";
import { shutdownApi } from "./api.js";
import { hostCgroupOf, removeCgroup } from "./cgroup.js";
import { releaseLease } from "./leases.js";
import { sleep } from "./sleep.js";
import { isAlive, signalProc } from "./proc.js";
import { type MachineRecord, readRecord, type StateLayout, stateLayout, stateRoot } from "./state.js";

export interface StopOptions {
  /** How long each step (API shutdown, SIGTERM) may take before the next. Default 30000. */
  graceMs?: number;
  onProgress?: (step: string) => void;
}

/** Stops machine `name` and removes its state directory. */
export async function destroySandbox(name: string, opts: StopOptions = {}): Promise<void> {
  const layout = stateLayout(name);
  if (!readRecord(layout)) throw new Error(`no sandbox machine named "${name}" (no ${layout.record} under ${stateRoot()})`);
  await stopSandbox(layout, opts);
  // Best effort: a lease left behind names a dead host program, and is reclaimed as stale.
  await releaseLease(layout.dir).catch(() => false);
  const cgroup = hostCgroupOf(name, layout.dir);
  if (cgroup) await removeCgroup(cgroup.dir);
  opts.onProgress?.("removing state");
  rmSync(layout.dir, { recursive: true, force: true });
}

/** Stops a machine: Shutdown over the API, then SIGTERM, then SIGKILL. */
export async function stopSandbox(layout: StateLayout, opts: StopOptions = {}): Promise<void> {
  const grace = opts.graceMs ?? 30_000;
  const rec = readRecord(layout);
  if (!rec || !anyAlive(rec)) return;
  opts.onProgress?.("shutting down");
  if (await shutdownApi(`unix://${layout.socket}`, Math.min(grace, 5000)).then(() => true, () => false)) {
    if (await waitGone(layout, grace)) return;
  }
  opts.onProgress?.("terminating");
  terminate(readRecord(layout) ?? rec, "SIGTERM");
  if (await waitGone(layout, Math.min(grace, 10_000))) return;
  opts.onProgress?.("killing");
  terminate(readRecord(layout) ?? rec, "SIGKILL");
  if (!(await waitGone(layout, 5000))) throw new Error(`machine ${layout.dir} is still running after SIGKILL`);
}

/** Signals the host program (which passes SIGTERM on and stops restarting) and PID 1. */
function terminate(rec: MachineRecord, signal: NodeJS.Signals): void {
  signalProc(rec.host, signal);
  signalProc(rec.pidOne, signal);
}

/** Whether the host program or PID 1 still runs. */
function anyAlive(rec: MachineRecord): boolean {
  return isAlive(rec.host) || isAlive(rec.pidOne);
}

/** Polls until neither the host program nor PID 1 runs; false on timeout. */
async function waitGone(layout: StateLayout, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = readRecord(layout);
    if (!rec || !anyAlive(rec)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
