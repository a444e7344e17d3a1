// PID 1's open-file limit, raised at boot. The kernel starts init with 1024
// soft and 4096 hard (Node lifts the soft one to the hard); every API stream,
// log and socket machined holds is an fd, and at the limit spawning a service
// fails with EMFILE. So the hard limit goes up to the kernel's nr_open (at
// most fdLimitCeiling) and the soft one to the hard; services inherit both.
import { readFileSync } from "node:fs";
import { RLIMIT, type Rlimit, type Sys, SysError } from "../sys/sys.js";

/** The most PID 1's hard RLIMIT_NOFILE is raised to (where nr_open allows it). */
export const fdLimitCeiling = 1_048_576;

/** What raising did: the limit before and after, and why the hard one stayed when it could not go up. */
export interface FdLimitResult {
  before: Rlimit;
  after: Rlimit;
  /** Set when the hard limit could not be raised (no CAP_SYS_RESOURCE), so only the soft one went up. */
  kept?: string;
}

/** The kernel's ceiling for any fd limit, /proc/sys/fs/nr_open; undefined when /proc cannot tell. */
export function readNrOpen(path = "/proc/sys/fs/nr_open"): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Raises our RLIMIT_NOFILE: hard to min(nrOpen, ceiling) when that is higher, soft to hard (nrOpen unknown: soft alone). */
export function raiseFdLimit(sys: Sys, nrOpen: number | undefined): FdLimitResult {
  const before = sys.getrlimit(RLIMIT.NOFILE);
  const hard = Math.max(before.hard, Math.min(nrOpen ?? before.hard, fdLimitCeiling));
  try {
    sys.setrlimit(RLIMIT.NOFILE, { soft: hard, hard });
    return { before, after: { soft: hard, hard } };
  } catch (err) {
    if (!(err instanceof SysError) || err.code !== "EPERM" || hard === before.hard) throw err;
    sys.setrlimit(RLIMIT.NOFILE, { soft: before.hard, hard: before.hard });
    return { before, after: { soft: before.hard, hard: before.hard }, kept: `raising the hard limit to ${hard}: ${err.message}` };
  }
}

/** "open files: 1024:4096 → 1048576:1048576", and why the hard limit stayed, for the console. */
export function describeFdLimit(r: FdLimitResult): string {
  const pair = (l: Rlimit) => `${l.soft}:${l.hard}`;
  return `open files limit ${pair(r.before)} → ${pair(r.after)}${r.kept ? ` (hard limit kept: ${r.kept})` : ""}`;
}
