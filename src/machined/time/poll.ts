// When to ask the servers next: every 64 s at first, doubling to 1024 s while
// the clock stays within 128 ms of them, back to 64 s when it does not; after a
// failed round, 2 s doubling, never longer than the current interval.

export const POLL = {
  /** The interval a machine starts at and returns to. */
  minMs: 64_000,
  /** The interval a well-kept clock grows to. */
  maxMs: 1_024_000,
  /** The first retry after a failed round. */
  retryMs: 2_000,
  /** Offsets within this count as stable and let the interval grow. */
  stableMs: 128,
} as const;

export interface PollState {
  /** The interval between good rounds now. */
  intervalMs: number;
  /** Failed rounds since the last good one. */
  failures: number;
}

/** The state a machine starts with (and returns to on new servers). */
export function initialPoll(): PollState {
  return { intervalMs: POLL.minMs, failures: 0 };
}

/** After a good round whose offset was `offsetMs` (before correcting it). */
export function afterSuccess(s: PollState, offsetMs: number): PollState {
  const stable = Math.abs(offsetMs) <= POLL.stableMs;
  return { intervalMs: stable ? Math.min(s.intervalMs * 2, POLL.maxMs) : POLL.minMs, failures: 0 };
}

/** After a failed round. */
export function afterFailure(s: PollState): PollState {
  return { ...s, failures: s.failures + 1 };
}

/** How long to wait before the next round. */
export function nextDelayMs(s: PollState): number {
  if (s.failures === 0) return s.intervalMs;
  return Math.min(POLL.retryMs * 2 ** (s.failures - 1), s.intervalMs);
}
