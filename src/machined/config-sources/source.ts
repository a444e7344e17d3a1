// What a config source is: a name and a way to look. The boot tries a list
// of them in order (sources.ts); the first that finds a document wins.
import { mountPoints } from "../../machinery/paths.js";

/** What one source found: nothing (and why), or a YAML document and where it came from. */
export type SourceResult = { t: "none"; why: string } | { t: "found"; yaml: string; origin: string };

/** One place a machine may find its config at boot. */
export interface ConfigSource {
  /** Short and stable, used in events: "state", "cmdline-url", "config-drive", "fw_cfg". */
  readonly name: string;
  /** Looks once (a source may retry inside); `note` reports progress on the console and as an event; `signal` ends the look (a reboot preempting boot). */
  fetch(note: (message: string) => void, signal?: AbortSignal): Promise<SourceResult>;
}

/** Where the kernel's filesystems are; tests point them at a temp dir. */
export interface Roots {
  proc: string;
  sys: string;
  dev: string;
  /** Where a config drive is mounted for the moment it is read. */
  run: string;
}

export const realRoots: Roots = { proc: mountPoints.proc, sys: mountPoints.sys, dev: mountPoints.dev, run: mountPoints.run };

/** Time, for sources that wait; tests pass a fake. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export const none = (why: string): SourceResult => ({ t: "none", why });
export const found = (yaml: string, origin: string): SourceResult => ({ t: "found", yaml, origin });

/** An error's message with its causes, e.g. "reading /x: EACCES: permission denied, open '/x'". */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause === undefined ? err.message : `${err.message}: ${reason(err.cause)}`;
}

/** Waits for `p`, or rejects with the signal's reason once it aborts. */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
