// Which processes the reaper may wait for: zombie children of ours that
// libuv did not spawn (libuv reaps its own with waitpid(pid) and must keep
// their status). Selection is pure; finding reads only /proc/PID/stat files.
import { listChildren, listPids, type ProcStat, readStat } from "./proc-stat.js";
import type { SpawnedPids } from "./spawned.js";

/**
 * Zombies whose parent is `ourPid` and that are not in `spawned`; none while
 * a spawn is in flight. That is asked after the zombies were seen: a spawn
 * that forked one of them and has ended has put its pid in the set.
 */
export function selectOrphanZombies(stats: Iterable<ProcStat>, ourPid: number, spawned: SpawnedPids): number[] {
  const zombies: number[] = [];
  for (const s of stats) if (s.state === "Z" && s.ppid === ourPid) zombies.push(s.pid);
  if (zombies.length === 0 || spawned.spawning()) return [];
  return zombies.filter((pid) => !spawned.has(pid));
}

/**
 * Finds orphan zombies under procRoot. Candidates are our children from the
 * task children files when the kernel has them (cheap: only our children's
 * stat is read), else every pid in procRoot.
 */
export function findOrphanZombies(procRoot: string, ourPid: number, spawned: SpawnedPids): number[] {
  // `spawned` is checked only for zombie children (selectOrphanZombies): its lookups cost more than a stat read.
  const candidates = listChildren(procRoot, ourPid) ?? listPids(procRoot);
  return selectOrphanZombies(readStats(procRoot, candidates), ourPid, spawned);
}

/** The stats of those pids that still exist. */
function* readStats(procRoot: string, pids: number[]): Generator<ProcStat> {
  for (const pid of pids) {
    const stat = readStat(procRoot, pid);
    if (stat) yield stat;
  }
}
