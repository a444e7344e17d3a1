// Ending every process but us at shutdown: TERM, a grace period watched
// through /proc, then KILL. kill(-1) signals every process we may signal,
// so this refuses to run anywhere but as PID 1 of a pid namespace.
import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { mountPoints } from "../machinery/paths.js";
import { type Sys, SysError } from "../sys/sys.js";
import { listPids, PF_KTHREAD, readStat } from "./proc-stat.js";

export interface KillAllOptions {
  procRoot?: string;
  /** How often /proc is checked while waiting. Default 50. */
  pollMs?: number;
  /** How long to wait for processes to go after SIGKILL. Default 1000. */
  killWaitMs?: number;
  log?(line: string): void;
}

/** TERM every process but us, wait up to graceMs for them to go, then KILL the rest. */
export async function killAll(sys: Sys, graceMs: number, opts: KillAllOptions = {}): Promise<void> {
  const { procRoot = mountPoints.proc, pollMs = 50, killWaitMs = 1000, log = () => {} } = opts;
  const ourPid = sys.getpid();
  if (ourPid !== 1) throw new Error(`killAll: refusing kill(-1) as pid ${ourPid}; it would signal the whole host`);
  if (!signalAll(sys, constants.signals.SIGTERM)) return;
  if (await waitForOthers(procRoot, ourPid, graceMs, pollMs)) return;
  log(`killAll: ${otherPids(procRoot, ourPid).length} processes left after ${graceMs} ms; sending SIGKILL`);
  if (!signalAll(sys, constants.signals.SIGKILL)) return;
  if (!(await waitForOthers(procRoot, ourPid, killWaitMs, pollMs))) {
    log(`killAll: still running after SIGKILL: ${otherPids(procRoot, ourPid).join(" ")}`);
  }
}

/** kill(-1, sig); false when there was no process to signal (ESRCH). */
function signalAll(sys: Sys, signal: number): boolean {
  try {
    sys.kill(-1, signal);
    return true;
  } catch (err) {
    if (err instanceof SysError && err.code === "ESRCH") return false;
    throw new Error(`signalling every process with ${signal}`, { cause: err });
  }
}

/** Polls until no other process is left (true) or the time is up (false). */
async function waitForOthers(procRoot: string, ourPid: number, ms: number, pollMs: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (otherPids(procRoot, ourPid).length === 0) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}

/** Live processes other than us: not zombies, not kernel threads. */
export function otherPids(procRoot: string, ourPid: number): number[] {
  return listPids(procRoot).filter((pid) => {
    if (pid === ourPid) return false;
    const stat = readStat(procRoot, pid);
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X" && (stat.flags & PF_KTHREAD) === 0;
  });
}
