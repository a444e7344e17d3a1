// One start of a service: skip? → wait for dependencies and conditions →
// prepare → run under the restart policy, with a health loop per process.
import { type HealthState, runHealthLoop, unknownHealth } from "../health/health-loop.js";
import type { LogSink, MachineContext } from "../service.js";
import type { BackoffOptions } from "./backoff.js";
import { errorText } from "./exit.js";
import { type LoopEvent, restartLoop } from "./restart.js";
import { type Active, type Entry, running, type ServiceState, state } from "./state.js";

/** What a lifecycle needs from the supervisor. */
export interface LifecycleEnv {
  m: MachineContext;
  backoff: BackoffOptions;
  sink(id: string): LogSink;
  /** Changes the state (and publishes it). */
  set(e: Entry, s: ServiceState): void;
  /** Changes the health (and publishes it). */
  setHealth(e: Entry, h: HealthState): void;
  /** The entry of a dependency, if registered. */
  lookup(id: string): Entry | undefined;
  /** Resolves on the next state or health change anywhere; false when the signal aborts first. */
  changed(signal: AbortSignal): Promise<boolean>;
}

/** Runs one start to its end; any error becomes Failed. */
export async function lifecycle(e: Entry, env: LifecycleEnv, a: Active): Promise<void> {
  try {
    await phases(e, env, a);
  } catch (err) {
    if (!a.abort.signal.aborted) env.set(e, state("Failed", errorText(err)));
  }
}

/** The phases in order; each returns false when the start was stopped or skipped. */
async function phases(e: Entry, env: LifecycleEnv, a: Active): Promise<void> {
  const signal = a.abort.signal;
  const skip = e.def.skip?.(env.m);
  if (skip !== undefined) return env.set(e, state("Skipped", skip));
  if (!(await waitDependencies(e, env, signal))) return;
  if (!(await waitConditions(e, env, signal))) return;
  env.set(e, state("Preparing", "preparing"));
  if (e.def.prepareAlongside) return alongside(e, env, a);
  await prepare(e, env.m);
  if (signal.aborted) return;
  startLoop(e, env, a);
  await a.loop?.done;
}

/** Starts the process under its restart policy. */
function startLoop(e: Entry, env: LifecycleEnv, a: Active): void {
  const runner = e.def.run(env.m);
  const scope = { id: e.def.id, cgroupRoot: env.m.paths.cgroupRoot };
  a.loop = restartLoop(runner, e.def.restart, { log: env.sink(e.def.id), scope, backoff: env.backoff, onEvent: (ev) => onLoopEvent(e, env, a, ev) });
}

/**
 * prepare and the process at once (prepareAlongside); a failed prepare stops
 * the process, then fails the start with prepare's error. A stop waits for
 * prepare too, so the next start's prepare never overlaps this one's.
 */
async function alongside(e: Entry, env: LifecycleEnv, a: Active): Promise<void> {
  const prepared = prepare(e, env.m);
  prepared.catch(() => {}); // awaited below; until then, not unhandled
  try {
    startLoop(e, env, a);
  } catch (err) {
    // The start ends only once prepare has: a next start's prepare must not overlap this one.
    await prepared.catch(() => {});
    throw err;
  }
  try {
    await prepared;
  } catch (err) {
    if (!a.abort.signal.aborted) {
      stopHealth(e, a);
      await a.loop?.stop(e.def.stopGraceMs ?? 10_000);
    }
    throw err;
  }
  await a.loop?.done;
}

/** A reason to skip when a dependency was skipped: it will never be ready. */
function skippedDependency(e: Entry, env: LifecycleEnv): string | undefined {
  const dep = e.def.dependsOn.find((d) => env.lookup(d)?.state.t === "Skipped");
  return dep === undefined ? undefined : `dependency ${dep} was skipped`;
}

/** Whether a dependency is ready: Running, and healthy if it has a check. */
export function ready(e: Entry | undefined): boolean {
  return e?.state.t === "Running" && (!e.def.health || e.health.healthy === true);
}

/** Waits (in state Waiting, naming what it waits for) until every dependency is ready; Skipped if one was skipped. */
async function waitDependencies(e: Entry, env: LifecycleEnv, signal: AbortSignal): Promise<boolean> {
  for (;;) {
    const skip = skippedDependency(e, env);
    if (skip !== undefined) {
      env.set(e, state("Skipped", skip));
      return false;
    }
    const pending = e.def.dependsOn.filter((d) => !ready(env.lookup(d)));
    if (pending.length === 0) return !signal.aborted;
    const message = `waiting for ${pending.join(", ")}`;
    if (e.state.t !== "Waiting" || e.state.message !== message) env.set(e, state("Waiting", message));
    if (!(await env.changed(signal))) return false;
  }
}

/** Waits for each condition in turn, in state Waiting. */
async function waitConditions(e: Entry, env: LifecycleEnv, signal: AbortSignal): Promise<boolean> {
  for (const c of e.def.conditions ?? []) {
    env.set(e, state("Waiting", `waiting for ${c.describe}`));
    const note = (detail: string) => {
      if (!signal.aborted) env.set(e, state("Waiting", `waiting for ${c.describe}: ${detail}`));
    };
    try {
      await c.wait(env.m, signal, note);
    } catch (err) {
      if (signal.aborted) return false;
      throw new Error(`waiting for ${c.describe}`, { cause: err });
    }
  }
  return !signal.aborted;
}

/** Runs the definition's prepare step, naming it in the error. */
async function prepare(e: Entry, m: MachineContext): Promise<void> {
  try {
    await e.def.prepare?.(m);
  } catch (err) {
    throw new Error("preparing", { cause: err });
  }
}

/** Maps what the restart loop reports to service states and health loops. */
function onLoopEvent(e: Entry, env: LifecycleEnv, a: Active, ev: LoopEvent): void {
  stopHealth(e, a);
  if (ev.t === "running") {
    e.restarts = ev.restarts;
    env.set(e, running(ev.proc.pid, ev.restarts > 0 ? `running (restart ${ev.restarts})` : "running"));
    startHealth(e, env, a);
  } else {
    env.set(e, ev.t === "waiting" ? state("Waiting", ev.message) : state(ev.ok ? "Finished" : "Failed", ev.message));
  }
}

/** Starts a health loop for the current process, if the service has a check. */
function startHealth(e: Entry, env: LifecycleEnv, a: Active): void {
  if (!e.def.health) return;
  const ac = new AbortController();
  a.health = ac;
  runHealthLoop(e.def.health, env.m, ac.signal, (h) => !ac.signal.aborted && env.setHealth(e, h)).catch((err: unknown) =>
    env.setHealth(e, { healthy: false, message: `health loop failed: ${errorText(err)}`, changedAt: new Date() }),
  );
}

/** Stops the health loop and forgets the last result (a new process is unchecked). */
export function stopHealth(e: Entry, a: Active): void {
  a.health?.abort();
  a.health = undefined;
  e.health = unknownHealth();
}
