// /proc/PID/stat: parsing one line, and reading the stats of a process's
// children or of every process. Pure apart from synchronous reads of procRoot.
import { readdirSync, readFileSync } from "node:fs";

/** The fields of /proc/PID/stat that kiln uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, T… */
  state: string;
  ppid: number;
  /** PF_* flags; PF_KTHREAD marks kernel threads. */
  flags: number;
}

/** The kernel thread bit of ProcStat.flags. */
export const PF_KTHREAD = 0x00200000;

/**
 * Parses a stat line. comm is in parentheses and may itself contain spaces
 * and ')', so the fields after it start at the LAST ')'.
 */
export function parseStat(text: string): { value: ProcStat } | { error: string } {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return { error: `no "(comm)" in ${JSON.stringify(text.slice(0, 80))}` };
  const rest = text.slice(close + 2).split(" ");
  const pid = Number(text.slice(0, open).trim());
  const [state, ppid, flags] = [rest[0] ?? "", Number(rest[1]), Number(rest[6])];
  if (!Number.isInteger(pid) || !state || !Number.isInteger(ppid) || !Number.isInteger(flags)) {
    return { error: `malformed stat line ${JSON.stringify(text.slice(0, 80))}` };
  }
  return { value: { pid, comm: text.slice(open + 1, close), state, ppid, flags } };
}

/** Reads and parses /proc/PID/stat; undefined when the process is gone or unreadable. */
export function readStat(procRoot: string, pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited and reaped between listing and reading
  }
  const parsed = parseStat(text);
  return "value" in parsed ? parsed.value : undefined;
}

/** Every numeric entry of procRoot: all visible pids. */
export function listPids(procRoot: string): number[] {
  return readdirSync(procRoot)
    .filter((name) => /^[0-9]+$/.test(name))
    .map(Number);
}

/**
 * The children of `pid` from /proc/PID/task/TID/children (one file per
 * thread); undefined when the kernel lacks CONFIG_PROC_CHILDREN.
 */
export function listChildren(procRoot: string, pid: number): number[] | undefined {
  const task = `${procRoot}/${pid}/task`;
  const main = readChildrenFile(`${task}/${pid}/children`);
  if (main === undefined) return undefined; // the main thread's file always exists when supported
  const children = words(main);
  for (const tid of readdirSync(task)) {
    if (tid !== String(pid)) children.push(...words(readChildrenFile(`${task}/${tid}/children`) ?? ""));
  }
  return children;
}

/** One thread's children file; undefined when it does not exist. */
function readChildrenFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // unsupported, or the thread just exited
  }
}

/** The pids in a space-separated list. */
function words(text: string): number[] {
  return text.split(/\s+/).filter(Boolean).map(Number);
}
