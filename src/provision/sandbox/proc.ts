// What the host's /proc says about a process: alive, started when, whose
// children. A PID with its start time names one process even after the PID
// is reused.
import { readdirSync, readFileSync } from "node:fs";

/** A process that can be recognised later: PID plus start time (clock ticks since boot). */
export interface ProcRef {
  pid: number;
  start: number;
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function startTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] === undefined ? undefined : Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** A reference to the live process `pid`, or undefined when it is gone. */
export function procRef(pid: number): ProcRef | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { pid, start };
}

/** Whether the very process `ref` names is still running (not a zombie, not a reused PID). */
export function isAlive(ref: ProcRef | undefined): boolean {
  if (!ref || startTime(ref.pid) !== ref.start) return false;
  return procState(ref.pid) !== "Z";
}

/** The one-letter state of `pid` (R, S, Z…), or undefined. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (from /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The argv of `pid` from /proc/<pid>/cmdline. */
export function cmdline(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv;
}

/** The live processes whose argv holds `arg` exactly (a scan of /proc; processes that end meanwhile are skipped). */
export function processesWithArg(arg: string): ProcRef[] {
  const found: ProcRef[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      const ref = procRef(pid);
      if (ref && cmdline(pid).includes(arg)) found.push(ref);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Sends `signal`, ignoring a process that is already gone. */
export function signalProc(ref: ProcRef | undefined, signal: NodeJS.Signals): void {
  if (!isAlive(ref)) return;
  try {
    process.kill(ref!.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
