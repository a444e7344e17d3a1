// Stopping one process: SIGTERM to the main process, a grace period, then
// SIGKILL to the whole cgroup (grandchildren included) in any case.
import type { RunningProcess } from "../service.js";
import { sleep } from "./wait.js";

/** How long to wait for the main process to be reaped after SIGKILL. */
const KILL_WAIT_MS = 5000;

/** Terminates `proc`; resolves with how it went ("stopped", "killed after 10s grace"). */
export async function terminate(proc: RunningProcess, graceMs: number): Promise<string> {
  proc.signal("SIGTERM");
  const graceful = await settlesWithin(proc.exited, graceMs);
  proc.killAll();
  if (graceful) return "stopped";
  if (await settlesWithin(proc.exited, KILL_WAIT_MS)) return `killed after ${graceMs} ms grace`;
  return `did not exit ${KILL_WAIT_MS} ms after SIGKILL`;
}

/** True if the promise settles (either way) within `ms`; the timer is cleared either way. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const settled = p.then(
    () => true,
    () => true,
  );
  const timedOut = sleep(ms, ac.signal).then(() => false);
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    ac.abort();
  }
}
