// Runs a service as a child process: born in its own cgroup with its
// oom_score_adj, in a new session, its stdout and stderr piped to the log.
import { type ChildProcess, spawn } from "node:child_process";
import { basename } from "node:path";
import { cgroupPaths, DEFAULT_PATH } from "../../machinery/paths.js";
import type { ExitStatus, LogSink, Paths, RunningProcess, Runner, RunScope } from "../service.js";
import { type Cgroups, cgroupsAt, noCgroups } from "./cgroups.js";
import { withOomScoreAdj } from "./oom-score.js";

export interface ProcessOptions {
  /** The whole environment besides PATH (services do not inherit machined's). */
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** -1000…1000; set at birth. */
  oomScoreAdj?: number;
  /** cgroup under the cgroup root, e.g. "/system/runtime"; default "/system/<id>". Services sharing one are killed together. */
  cgroup?: string;
}

/** Where cgroups live, and what a test may replace. A MachineContext fits. */
export interface ProcessDeps {
  /** The cgroup root; default: the scope's (the supervisor passes Paths.cgroupRoot). */
  paths?: Pick<Paths, "cgroupRoot">;
  /** Default: the cgroups at that root, or none when no root is known. */
  cgroups?: Cgroups;
  /** Default: /proc/self/oom_score_adj. */
  oomScoreAdjFile?: string;
}

/** A Runner for `argv`; each start() spawns one process. */
export function processRunner(argv: string[], opts: ProcessOptions = {}, deps: ProcessDeps = {}): Runner {
  if (argv.length === 0 || !argv[0]) throw new TypeError("Expected `argv` to name a program, got an empty list");
  return { start: (log, scope) => start(argv, opts, deps, log, scope) };
}

/** Spawns in place (cgroup, oom score), pipes output, returns the handle. */
function start(argv: string[], opts: ProcessOptions, deps: ProcessDeps, log: LogSink, scope?: RunScope): RunningProcess {
  const { child, killAll } = spawnInPlace(argv, opts, deps, scope, "ignore");
  pipeTo(child, log);
  return handle(argv[0]!, child, killAll);
}

/** The child, born in its cgroup with its oom score, and how to kill all of it. */
export function spawnInPlace(argv: string[], opts: ProcessOptions, deps: ProcessDeps, scope: RunScope | undefined, stdin: "ignore" | "pipe") {
  const root = deps.paths?.cgroupRoot ?? scope?.cgroupRoot;
  const cgroups = deps.cgroups ?? (root ? cgroupsAt(root) : noCgroups);
  const group = opts.cgroup ?? `${cgroupPaths.system}/${scope?.id ?? basename(argv[0]!)}`;
  const oomFile = deps.oomScoreAdjFile ?? "/proc/self/oom_score_adj";
  const child = cgroups.within(group, () => withOomScoreAdj(oomFile, opts.oomScoreAdj, () => spawnChild(argv, opts, stdin)));
  return { child, killAll: () => (cgroups.enabled ? cgroups.kill(group) : killProcessGroup(child.pid)) };
}

/** The spawn itself: new session (so the process group can be killed), stdin only when asked. */
function spawnChild(argv: string[], opts: ProcessOptions, stdin: "ignore" | "pipe"): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), {
    env: { PATH: DEFAULT_PATH, ...opts.env },
    cwd: opts.cwd,
    uid: opts.uid,
    gid: opts.gid,
    stdio: [stdin, "pipe", "pipe"],
    detached: true,
  });
}

/** Sends stdout and stderr, as they come, to the log. */
export function pipeTo(child: ChildProcess, log: LogSink): void {
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => log.write(chunk));
    stream?.on("error", () => {});
  }
}

/** The RunningProcess view of a child; `exited` rejects if it never started. */
export function handle(program: string, child: ChildProcess, killAll: () => void): RunningProcess {
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      if (child.pid === undefined) reject(new Error(`starting ${program}`, { cause: err }));
    });
  });
  exited.catch(() => {});
  return { pid: child.pid ?? 0, exited, signal: (sig) => void child.kill(sig), killAll };
}

/** Without cgroups: SIGKILL the service's process group (its session leader's). */
export function killProcessGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {}
}
