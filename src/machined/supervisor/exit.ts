// How a run ended, in the words the state message uses.
import type { ExitStatus } from "../service.js";

/** A run's outcome: the process exited, or it could not be started. */
export type Outcome = { t: "exited"; status: ExitStatus } | { t: "error"; error: Error };

/** "exited with code 3", "killed by signal SIGKILL", "failed to start: …". */
export function describeOutcome(o: Outcome): string {
  if (o.t === "error") return `failed to start: ${errorText(o.error)}`;
  if (o.status.signal) return `killed by signal ${o.status.signal}`;
  return `exited with code ${o.status.code}`;
}

/** Whether the run counts as a success (exit code 0). */
export function succeeded(o: Outcome): boolean {
  return o.t === "exited" && o.status.code === 0;
}

/** An error's message followed by its causes' ("starting x: spawn x ENOENT"). */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ");
}
