// The one place that knows which children libuv spawned, in every thread.
// Every spawn, exec, execFile and fork goes through ChildProcess.prototype.spawn,
// so wrapping it once a thread sees them all; a pid leaves the set when its
// 'exit' event fires (libuv has reaped it by then). spawnSync is not seen and
// need not be: it blocks its event loop until it has reaped its child.
//
// Worker threads have their own ChildProcess.prototype and their own libuv
// loop, which reaps its children with waitpid(pid) too. So the set is shared
// memory: the main thread creates it and hands it to every worker started
// afterwards (worker_threads environment data); loading this module in a
// worker wraps that worker's spawn into the same set. A worker must load it
// before spawning (anything importing src/init does; kiln's one worker, the config parser, spawns nothing)
// and then the reaper, on the main thread, never takes their statuses.
//
// A worker's child can exit before its pid is in the set: fork returns, the
// child exits at once, and the main thread scans before the worker has
// added the pid. So every spawn counts itself in flight (shared too) from
// before the fork until its pid is added, and the reaper takes no unknown
// zombie while a spawn is in flight: it looks again at its next scan.
import { ChildProcess } from "node:child_process";
import { getEnvironmentData, isMainThread, setEnvironmentData } from "node:worker_threads";

/** Kept on the prototype, so two copies of this module in one thread still share one set. */
const SET = Symbol.for("kiln.spawnedPids");
/** The environment data key under which workers find the shared memory. */
const SHARED = "kiln.spawnedPids";
/** Slots for live children across all threads (64 KiB). */
const SLOTS = 16_384;

/** The pids of our live children, whichever thread spawned them. */
export interface SpawnedPids {
  has(pid: number): boolean;
  /** True while some thread is inside spawn: it may have a child whose pid is not in the set yet. */
  spawning(): boolean;
}

type SpawnFn = (this: ChildProcess, ...args: unknown[]) => unknown;
type TrackedProto = { spawn: SpawnFn; [SET]?: SharedPidSet };

/** Wraps this thread's ChildProcess.prototype.spawn (once) and returns the set shared by every thread. */
export function trackSpawnedChildren(): SpawnedPids {
  const proto = ChildProcess.prototype as unknown as TrackedProto;
  const existing = proto[SET];
  if (existing) return existing;
  const pids = new SharedPidSet(sharedMemory());
  const original = proto.spawn;
  proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
    pids.began();
    try {
      const result = original.apply(this, args);
      remember(pids, this);
      return result;
    } finally {
      pids.ended();
    }
  };
  proto[SET] = pids;
  return pids;
}

/** The main thread's shared memory (created and published once), as a worker finds it. */
function sharedMemory(): SharedArrayBuffer {
  const found = getEnvironmentData(SHARED);
  if (found instanceof SharedArrayBuffer) return found;
  const sab = new SharedArrayBuffer((SLOTS + 1) * Int32Array.BYTES_PER_ELEMENT);
  // Workers started before this see none; they are not tracked (and a worker creating its own only tracks itself).
  if (isMainThread) setEnvironmentData(SHARED, sab);
  return sab;
}

/** Adds a just-spawned child's pid until its exit event. */
function remember(pids: SharedPidSet, child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return; // spawn failed; 'error' follows
  pids.add(pid);
  child.once("exit", () => pids.delete(pid));
}

/**
 * A set of pids in shared memory: slots hold a pid or 0, claimed and freed
 * with compare-and-swap. The word before them counts the spawns in flight.
 */
class SharedPidSet implements SpawnedPids {
  private readonly inFlight: Int32Array;
  private readonly slots: Int32Array;
  constructor(sab: SharedArrayBuffer) {
    this.inFlight = new Int32Array(sab, 0, 1);
    this.slots = new Int32Array(sab, Int32Array.BYTES_PER_ELEMENT);
  }
  began(): void {
    Atomics.add(this.inFlight, 0, 1);
  }
  ended(): void {
    Atomics.sub(this.inFlight, 0, 1);
  }
  spawning(): boolean {
    return Atomics.load(this.inFlight, 0) > 0;
  }
  /** Claims a free slot; with none left the pid goes untracked (16,384 live children). */
  add(pid: number): void {
    for (let i = 0; i < this.slots.length; i++) if (Atomics.compareExchange(this.slots, i, 0, pid) === 0) return;
  }
  delete(pid: number): void {
    for (let i = 0; i < this.slots.length; i++) if (Atomics.compareExchange(this.slots, i, pid, 0) === pid) return;
  }
  has(pid: number): boolean {
    for (let i = 0; i < this.slots.length; i++) if (Atomics.load(this.slots, i) === pid) return true;
    return false;
  }
}

// A worker that loads this module tracks its children from then on.
if (!isMainThread) trackSpawnedChildren();
