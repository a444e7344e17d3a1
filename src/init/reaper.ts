// Reaps orphans that the kernel reparents to us (as PID 1, or as a child
// subreaper) without stealing the exit status of libuv's own children: on
// SIGCHLD and on a slow timer, wait for each zombie child we did not spawn.
import { mountPoints } from "../machinery/paths.js";
import { PR, type Sys, SysError, WNOHANG } from "../sys/sys.js";
import { trackSpawnedChildren } from "./spawned.js";
import { findOrphanZombies } from "./zombies.js";

export interface ReaperOptions {
  sys: Sys;
  procRoot?: string;
  /** The slow timer that catches what a missed SIGCHLD would leave. Default 1000. */
  intervalMs?: number;
  /** Called for each reaped orphan with its raw wait status; must not throw. */
  onReap?(pid: number, status: number): void;
  /** Called when a scan fails (e.g. /proc unreadable); the reaper keeps going. */
  onError?(err: Error): void;
}

export interface Reaper {
  stop(): void;
  /** Scans and reaps synchronously; returns how many orphans were reaped. */
  reapNow(): number;
  readonly stats: { reaped: number };
}

/** A scan costing t ms is followed by at least GAP_FACTOR*t ms without one. */
const GAP_FACTOR = 4;

/** Makes us the reaper of our descendants' orphans when we are not PID 1. */
export function becomeSubreaper(sys: Sys): void {
  sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
}

/** Starts reaping; call before spawning anything so every child is tracked. */
export function startReaper(opts: ReaperOptions): Reaper {
  const { sys, procRoot = mountPoints.proc, intervalMs = 1000 } = opts;
  const ourPid = sys.getpid();
  const spawned = trackSpawnedChildren();
  const stats = { reaped: 0 };
  const reapNow = (): number => {
    let n = 0;
    for (const pid of findOrphanZombies(procRoot, ourPid, spawned)) if (reapOne(sys, pid, opts.onReap)) n++;
    stats.reaped += n;
    return n;
  };
  const scans = createScanScheduler(reapNow, (err) => opts.onError?.(err));
  const timer = setInterval(scans.request, intervalMs).unref();
  process.on("SIGCHLD", scans.request);
  const stop = () => {
    process.off("SIGCHLD", scans.request);
    clearInterval(timer);
    scans.cancel();
  };
  return { stop, reapNow, stats };
}

/** waitpid(pid, WNOHANG); true when it reaped. ECHILD means someone else did. */
function reapOne(sys: Sys, pid: number, onReap: ReaperOptions["onReap"]): boolean {
  let result: { pid: number; status: number };
  try {
    result = sys.waitpid(pid, WNOHANG);
  } catch (err) {
    if (err instanceof SysError && err.code === "ECHILD") return false;
    throw err;
  }
  if (result.pid !== pid) return false;
  onReap?.(pid, result.status);
  return true;
}

/**
 * Coalesces scan requests (a SIGCHLD storm) into one scan per event-loop
 * turn, and spaces scans by GAP_FACTOR times their cost, so even 10,000
 * children exiting one by one cost O(n) reads per scan, not per exit.
 */
function createScanScheduler(scan: () => void, onError: (err: Error) => void) {
  let cancelPending: (() => void) | undefined;
  let notBefore = 0;
  const run = () => {
    cancelPending = undefined;
    const started = performance.now();
    try {
      scan();
    } catch (cause) {
      onError(new Error("reaping orphans", { cause }));
    }
    const ended = performance.now();
    notBefore = ended + (ended - started) * GAP_FACTOR;
  };
  const request = () => {
    if (cancelPending) return;
    const wait = notBefore - performance.now();
    cancelPending = wait > 0 ? cancelTimeout(setTimeout(run, wait).unref()) : cancelImmediate(setImmediate(run));
  };
  const cancel = () => {
    cancelPending?.();
    cancelPending = undefined;
  };
  return { request, cancel };
}

/** A canceller for a timeout. */
function cancelTimeout(t: NodeJS.Timeout): () => void {
  return () => clearTimeout(t);
}

/** A canceller for an immediate. */
function cancelImmediate(i: NodeJS.Immediate): () => void {
  return () => clearImmediate(i);
}
