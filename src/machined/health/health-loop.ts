// The health loop of one running service: after an initial delay, run the
// check every interval, each run bounded by a timeout, and report changes.
import type { HealthSpec, MachineContext } from "../service.js";
import { errorText } from "../supervisor/exit.js";
import { sleep } from "../supervisor/wait.js";

export interface HealthState {
  /** null until a check has completed. */
  healthy: boolean | null;
  /** Why the last check failed; empty when healthy. */
  message: string;
  /** When `healthy` last changed. */
  changedAt: Date | undefined;
}

/** The state before any check has completed. */
export function unknownHealth(): HealthState {
  return { healthy: null, message: "", changedAt: undefined };
}

/** Retry interval of failed checks during the start period. */
const startRetryMs = 250;

/**
 * Checks until the signal aborts; calls onChange when `healthy` or the
 * message changes. During the start period (see HealthSpec.startPeriodMs) a
 * failure is "still starting": health stays unknown and is retried soon.
 */
export async function runHealthLoop(spec: HealthSpec, m: MachineContext, signal: AbortSignal, onChange: (s: HealthState) => void) {
  let state = unknownHealth();
  const startEnds = Date.now() + (spec.startPeriodMs ?? 10_000);
  let starting = true;
  await sleep(spec.initialDelayMs ?? 0, signal);
  while (!signal.aborted) {
    const result = await checkOnce(spec, m, signal);
    if (signal.aborted) return;
    starting &&= !result.healthy && Date.now() < startEnds;
    const next = starting ? state : nextState(state, result);
    if (next !== state) onChange(next);
    state = next;
    await sleep(starting ? startRetryMs : (spec.intervalMs ?? 2000), signal);
  }
}

/** The new state, or the same object when nothing changed. */
function nextState(prev: HealthState, r: { healthy: boolean; message: string }): HealthState {
  if (prev.healthy === r.healthy && prev.message === r.message) return prev;
  const changedAt = prev.healthy === r.healthy ? prev.changedAt : new Date();
  return { healthy: r.healthy, message: r.message, changedAt };
}

/** One check, aborted at the timeout (or when the loop stops). */
export async function checkOnce(spec: HealthSpec, m: MachineContext, signal: AbortSignal) {
  const timeoutMs = spec.timeoutMs ?? 2000;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`health check timed out after ${timeoutMs} ms`)), timeoutMs);
  const stop = () => ac.abort(signal.reason);
  signal.addEventListener("abort", stop, { once: true });
  try {
    await Promise.race([spec.check(m, ac.signal), rejectOnAbort(ac.signal)]);
    return { healthy: true, message: "" };
  } catch (err) {
    return { healthy: false, message: errorText(ac.signal.aborted ? ac.signal.reason : err) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", stop);
    ac.abort();
  }
}

/** A promise that rejects when the signal aborts (the check may ignore it). */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}
