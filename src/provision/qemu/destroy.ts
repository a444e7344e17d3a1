// Stopping a VM: Shutdown through apid (with the config's CA, or none in
// maintenance mode, where apid refuses it), then SIGTERM and SIGKILL to QEMU.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { parseConfig } from "../../config/parse.js";
import { isAlive } from "../sandbox/proc.js";
import { readRecord } from "../sandbox/state.js";
import { sleep } from "../sandbox/sleep.js";
import { accessFor, shutdownApid } from "./api.js";
import { type VmLayout, type VmRecord, vmLayout, } from "./state.js";

export interface StopOptions {
  /** How long QEMU may take to power off after Shutdown (0: skip the API). Default 60000. */
  graceMs?: number;
  onProgress?: (step: string) => void;
}

/** Stops VM `name` and removes its state directory. */
export async function destroyVm(name: string, opts: StopOptions = {}): Promise<void> {
  const layout = vmLayout(name);
  if (!readRecord<VmRecord>(layout)) throw new Error(`no qemu machine named "${name}" (no ${layout.record})`);
  await stopVm(layout, opts);
  opts.onProgress?.("removing state");
  rmSync(layout.dir, { recursive: true, force: true });
}

/** Powers the VM off through the API when it can, else ends QEMU. */
export async function stopVm(layout: VmLayout, opts: StopOptions = {}): Promise<void> {
  const rec = readRecord<VmRecord>(layout);
  if (!rec || !isAlive(rec.qemu)) return;
  const grace = opts.graceMs ?? 60_000;
  if (grace > 0) {
    opts.onProgress?.("shutting down");
    const config = existsSync(layout.config) ? parseConfig(readFileSync(layout.config, "utf8")) : undefined;
    const access = accessFor(config && "config" in config ? config.config : undefined);
    if (await shutdownApid(rec.port > 0 ? rec.port : { address: rec.address }, access).then(() => true, () => false)) {
      if (await waitGone(rec, grace)) return;
    }
  }
  opts.onProgress?.("terminating QEMU");
  signal(rec, "SIGTERM");
  if (await waitGone(rec, 5000)) return;
  signal(rec, "SIGKILL");
  if (!(await waitGone(rec, 5000))) throw new Error(`QEMU (pid ${rec.pid}) is still running after SIGKILL`);
}

function signal(rec: VmRecord, sig: NodeJS.Signals): void {
  if (!isAlive(rec.qemu)) return;
  try {
    process.kill(rec.pid, sig);
  } catch {
    // gone meanwhile
  }
}

async function waitGone(rec: VmRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(rec.qemu)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
