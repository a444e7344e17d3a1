// Restart backoff: exponential, capped, and reset once a run lasted long
// enough to count as healthy.

export interface BackoffOptions {
  /** The first delay. Default 100 ms. */
  initialMs: number;
  /** The delay never exceeds this. Default 30 s. */
  maxMs: number;
  /** A run at least this long resets the delay. Default 10 s. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 100, maxMs: 30_000, resetAfterMs: 10_000 };

/** The delay before the next start, given the previous delay (0: none yet) and how long the run lasted. */
export function nextDelay(previousMs: number, ranMs: number, b: BackoffOptions): number {
  if (previousMs === 0 || ranMs >= b.resetAfterMs) return b.initialMs;
  return Math.min(previousMs * 2, b.maxMs);
}

/** A delay as the state message shows it: "3.2s". */
export function formatDelay(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
