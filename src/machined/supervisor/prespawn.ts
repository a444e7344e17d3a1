// A service's process started before its first start is asked for: its node
// boots and loads its bundle while the machine does other things, then waits
// on stdin for its arguments (which may depend on what the boot finds, such
// as apid's mode). The first start takes it; later starts spawn as usual.
// Under TCG a node start is ~1 s of two vCPUs.
import type { ChildProcess } from "node:child_process";
import type { LogSink, RunningProcess, RunScope } from "../service.js";
import { handle, killProcessGroup, type ProcessDeps, type ProcessOptions, pipeTo, spawnInPlace } from "./process-runner.js";

/** What a prespawned process says before it is taken, kept for its log: at most this much. */
const earlyOutputBytes = 64 * 1024;

export interface Prespawned {
  /** Its pid; 0 when it could not be spawned. */
  readonly pid: number;
  /** The process, handed `args` (one JSON line on its stdin) and its log; undefined if it is gone or was taken (then spawn anew). */
  take(args: string[], log: LogSink): RunningProcess | undefined;
  /** Ends it (its process group: it has no children yet) unless it was taken. */
  discard(): void;
}

/** Spawns `argv` as processRunner would (cgroup, oom score, user, session), with a pipe on stdin. */
export function prespawn(argv: string[], opts: ProcessOptions, deps: ProcessDeps, scope?: RunScope): Prespawned {
  let child: ChildProcess | undefined;
  let killAll = () => {};
  try {
    ({ child, killAll } = spawnInPlace(argv, opts, deps, scope, "pipe"));
  } catch {
    // The first start spawns as usual, and says why if it fails again.
  }
  let gone = child === undefined;
  const early: Buffer[] = [];
  let earlyBytes = 0;
  const keep = (chunk: Buffer) => {
    if (earlyBytes + chunk.length <= earlyOutputBytes) early.push(chunk);
    earlyBytes += chunk.length;
  };
  child?.once("exit", () => {
    gone = true;
  });
  child?.once("error", () => {
    gone = true;
  });
  child?.stdin?.on("error", () => {});
  for (const stream of [child?.stdout, child?.stderr]) stream?.on("data", keep);
  const release = () => {
    for (const stream of [child?.stdout, child?.stderr]) stream?.off("data", keep);
  };
  return {
    pid: child?.pid ?? 0,
    take(args, log) {
      const c = child;
      child = undefined;
      if (!c || gone || !c.stdin) return undefined;
      release();
      for (const chunk of early) log.write(chunk);
      pipeTo(c, log);
      c.stdin.end(`${JSON.stringify(args)}\n`);
      return handle(argv[0]!, c, killAll);
    },
    discard() {
      const c = child;
      child = undefined;
      if (!c || gone) return;
      release();
      c.stdin?.end();
      // Its own process group only, not the service's cgroup: a start that spawned anew may be running there.
      killProcessGroup(c.pid);
    },
  };
}
