// Machine events in one bounded ring with monotonically increasing ids.
//
// Publishers never wait. A follower is a cursor into the ring, so its queue
// is the ring itself and is bounded by `capacity`. A follower that falls more
// than `capacity` events behind is ended with EventsMissedError, which says
// how many events it missed and the id to resume after (`sinceId`); resuming
// from an id older than the ring starts at the oldest event still kept.
import type { EventBus, EventPayload, EventQuery, MachineEvent } from "./events.js";

export interface EventBusOptions {
  /** Events kept for replay and slow followers. Default 1000. */
  capacity?: number;
}

/** Ends a follower that fell further behind than the ring holds. */
export class EventsMissedError extends Error {
  override name = "EventsMissedError";
  constructor(
    readonly missed: number,
    readonly lastId: number,
  ) {
    super(`event follower fell behind: ${missed} events were dropped; resume with sinceId ${lastId}`);
  }
}

/** The ring: event `id` lives in slot `(id - 1) % capacity`. */
interface Ring {
  slots: (MachineEvent | undefined)[];
  /** The id the next published event gets. */
  nextId: number;
}

/** Creates an event bus keeping the last `capacity` events. */
export function createEventBus({ capacity = 1000 }: EventBusOptions = {}): EventBus {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new TypeError(`Expected the \`capacity\` option to be a positive integer, got \`${capacity}\``);
  }
  const ring: Ring = { slots: new Array(capacity), nextId: 1 };
  const wakers = new Set<() => void>();
  return {
    publish: (payload) => publish(ring, wakers, payload),
    watch: (query) => watch(ring, wakers, query),
  };
}

/** Appends an event, overwriting the oldest, and wakes every follower. */
function publish(ring: Ring, wakers: Set<() => void>, payload: EventPayload): MachineEvent {
  const event: MachineEvent = { id: ring.nextId++, time: new Date(), payload };
  ring.slots[(event.id - 1) % ring.slots.length] = event;
  for (const wake of [...wakers]) wake();
  return event;
}

/** The oldest id still in the ring. */
function oldestId(ring: Ring): number {
  return Math.max(1, ring.nextId - ring.slots.length);
}

/** The first id a query delivers, decided when watch() is called; a future sinceId means "from now". */
function firstId(ring: Ring, { sinceId, tail }: EventQuery): number {
  if (sinceId > 0) return Math.min(Math.max(sinceId + 1, oldestId(ring)), ring.nextId);
  if (tail < 0) return oldestId(ring);
  return Math.max(ring.nextId - tail, oldestId(ring));
}

/** Starts the cursor now (so nothing published later is missed), iterates lazily. */
function watch(ring: Ring, wakers: Set<() => void>, query: EventQuery): AsyncIterable<MachineEvent> {
  const from = firstId(ring, query);
  const until = query.follow ? Number.POSITIVE_INFINITY : ring.nextId;
  return { [Symbol.asyncIterator]: () => iterate(ring, wakers, from, until, query.signal) };
}

/** Yields events from `next` up to (excluding) `until`, waiting for new ones. */
async function* iterate(ring: Ring, wakers: Set<() => void>, next: number, until: number, signal?: AbortSignal) {
  while (next < until && !signal?.aborted) {
    if (next < oldestId(ring)) throw new EventsMissedError(oldestId(ring) - next, next - 1);
    if (next < ring.nextId) yield ring.slots[(next++ - 1) % ring.slots.length]!;
    else if (!(await published(wakers, signal))) return;
  }
}

/** Resolves true on the next publish, false if the signal aborts first. */
function published(wakers: Set<() => void>, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      wakers.delete(wake);
      signal?.removeEventListener("abort", abort);
      resolve(value);
    };
    const wake = () => done(true);
    const abort = () => done(false);
    wakers.add(wake);
    signal?.addEventListener("abort", abort, { once: true });
  });
}
