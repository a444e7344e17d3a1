// The one place that knows which children libuv spawned. Every spawn, exec,
// execFile and fork goes through ChildProcess.prototype.spawn, so wrapping it
// once sees them all; a pid leaves the set when its 'exit' event fires (libuv
// has reaped it by then). spawnSync is not seen and need not be: it blocks
// the event loop, so the reaper cannot run before spawnSync reaps its child.
// Children spawned from worker threads are NOT seen: spawn from the main thread.
import { ChildProcess } from "node:child_process";

/** Kept on the prototype, so two copies of this module still share one set. */
const SET = Symbol.for("kiln.spawnedPids");

type SpawnFn = (this: ChildProcess, ...args: unknown[]) => unknown;
type TrackedProto = { spawn: SpawnFn; [SET]?: Set<number> };

/** Wraps ChildProcess.prototype.spawn (once) and returns the live set of our children's pids. */
export function trackSpawnedChildren(): ReadonlySet<number> {
  const proto = ChildProcess.prototype as unknown as TrackedProto;
  const existing = proto[SET];
  if (existing) return existing;
  const pids = new Set<number>();
  const original = proto.spawn;
  proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
    const result = original.apply(this, args);
    remember(pids, this);
    return result;
  };
  proto[SET] = pids;
  return pids;
}

/** Adds a just-spawned child's pid until its exit event. */
function remember(pids: Set<number>, child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return; // spawn failed; 'error' follows
  pids.add(pid);
  child.once("exit", () => pids.delete(pid));
}
