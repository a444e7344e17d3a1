// The restart policy wraps any runner: it runs it, and when the process
// ends decides by policy whether, and after what backoff, to run it again.
import type { LogSink, RestartPolicy, RunningProcess, Runner, RunScope } from "../service.js";
import { type BackoffOptions, defaultBackoff, formatDelay, nextDelay } from "./backoff.js";
import { describeOutcome, type Outcome, succeeded } from "./exit.js";
import { terminate } from "./terminate.js";
import { sleep } from "./wait.js";

/** What the loop reports as it goes. */
export type LoopEvent =
  | { t: "running"; proc: RunningProcess; restarts: number }
  | { t: "waiting"; message: string; delayMs: number }
  | { t: "ended"; ok: boolean; message: string };

export interface LoopOptions {
  log: LogSink;
  scope?: RunScope;
  backoff?: BackoffOptions;
  onEvent(e: LoopEvent): void;
}

export interface RestartLoop {
  /** Resolves once the loop has ended, by policy or by stop(). */
  done: Promise<void>;
  /** Cancels a pending restart or terminates the process (TERM→grace→KILL); says how it went. */
  stop(graceMs: number): Promise<string>;
}

/** Runs `runner` under `policy` until the policy says stop or stop() is called. */
export function restartLoop(runner: Runner, policy: RestartPolicy, opts: LoopOptions): RestartLoop {
  const ac = new AbortController();
  let current: RunningProcess | undefined;
  const track = (p?: RunningProcess) => {
    current = p;
  };
  const done = loop(runner, policy, opts, ac.signal, track);
  const stop = async (graceMs: number) => {
    ac.abort();
    const how = current ? await terminate(current, graceMs) : "stopped";
    await done;
    return how;
  };
  return { done, stop };
}

/** Run, wait for the exit, decide, back off, repeat. */
async function loop(runner: Runner, policy: RestartPolicy, opts: LoopOptions, signal: AbortSignal, track: (p?: RunningProcess) => void) {
  let delayMs = 0;
  for (let restarts = 0; !signal.aborted; restarts++) {
    const startedAt = Date.now();
    const outcome = await runOnce(runner, opts, (proc) => {
      track(proc);
      opts.onEvent({ t: "running", proc, restarts });
    });
    track(undefined);
    if (signal.aborted) return;
    if (!runsAgain(policy, outcome)) return opts.onEvent({ t: "ended", ok: succeeded(outcome), message: describeOutcome(outcome) });
    delayMs = nextDelay(delayMs, Date.now() - startedAt, opts.backoff ?? defaultBackoff);
    opts.onEvent({ t: "waiting", message: `${describeOutcome(outcome)}; restarting in ${formatDelay(delayMs)}`, delayMs });
    await sleep(delayMs, signal);
  }
}

/** One run: start (a pid of 0 means the spawn failed), report it, await its exit. */
async function runOnce(runner: Runner, opts: LoopOptions, started: (p: RunningProcess) => void): Promise<Outcome> {
  try {
    const proc = runner.start(opts.log, opts.scope);
    if (proc.pid === 0) await proc.exited;
    started(proc);
    return { t: "exited", status: await proc.exited };
  } catch (err) {
    return { t: "error", error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** forever: always; once: never; until-success: after a failure. */
export function runsAgain(policy: RestartPolicy, outcome: Outcome): boolean {
  if (policy === "forever") return true;
  if (policy === "once") return false;
  return !succeeded(outcome);
}
