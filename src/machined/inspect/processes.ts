// Processes from /proc/[pid]: stat (state, parent, CPU time, threads,
// virtual size), status (resident set), cmdline and the exe link. A process
// that exits while we read it is left out.
import { readdir, readFile, readlink } from "node:fs/promises";

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** R, S, D, Z… */
  state: string;
  threads: number;
  /** User + system CPU time, seconds. */
  cpuTime: number;
  /** Bytes. */
  virtualMemory: number;
  /** Bytes. */
  residentMemory: number;
  /** The kernel's name for it (comm). */
  command: string;
  /** Target of /proc/[pid]/exe; "" for kernel threads or when unreadable. */
  executable: string;
  /** The command line, arguments separated by spaces; "" for kernel threads. */
  args: string;
}

/** USER_HZ: the unit of utime and stime in /proc/[pid]/stat. */
export const CLK_TCK = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  cpuTime: number;
  threads: number;
  virtualMemory: number;
}

/** The fields we use from /proc/[pid]/stat; comm may hold spaces and parentheses. */
export function parseProcStat(text: string): { value: ProcStat } | { error: string } {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return { error: `no "(comm)" in ${JSON.stringify(text.slice(0, 60))}` };
  const rest = text.slice(close + 2).trim().split(" ");
  if (rest.length < 22) return { error: `expected at least 24 fields, got ${rest.length + 2}` };
  const n = (i: number) => Number(rest[i]);
  const value = { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), state: rest[0]!, ppid: n(1) };
  return { value: { ...value, cpuTime: (n(11) + n(12)) / CLK_TCK, threads: n(17), virtualMemory: n(20) } };
}

/** VmRSS from /proc/[pid]/status, in bytes; 0 for kernel threads. */
export function parseStatusRss(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Every process under `procDir`, by pid. */
export async function readProcesses(procDir: string): Promise<ProcessEntry[]> {
  const pids = (await readdir(procDir)).filter((name) => /^\d+$/.test(name)).map(Number);
  const found = await Promise.all(pids.map((pid) => readProcess(procDir, pid)));
  return found.filter((p): p is ProcessEntry => p !== undefined).sort((a, b) => a.pid - b.pid);
}

/** One process, or undefined when it is gone (or its stat makes no sense). */
export async function readProcess(procDir: string, pid: number): Promise<ProcessEntry | undefined> {
  const dir = `${procDir}/${pid}`;
  const [stat, status, cmdline, exe] = await Promise.all([
    readFile(`${dir}/stat`, "utf8").catch(() => undefined),
    readFile(`${dir}/status`, "utf8").catch(() => ""),
    readFile(`${dir}/cmdline`, "utf8").catch(() => ""),
    readlink(`${dir}/exe`).catch(() => ""),
  ]);
  const parsed = stat === undefined ? undefined : parseProcStat(stat);
  if (!parsed || "error" in parsed) return undefined;
  const { comm, ...s } = parsed.value;
  return { ...s, residentMemory: parseStatusRss(status), command: comm, executable: exe, args: cmdlineArgs(cmdline) };
}

/** NUL-separated argv as one line. */
function cmdlineArgs(cmdline: string): string {
  return cmdline.replace(/\0+$/, "").split("\0").join(" ");
}
