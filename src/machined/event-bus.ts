// Machine events in one bounded ring with monotonically increasing ids.
//
// Publishers never wait. Each event is bounded in bytes (event-bounds.ts),
// and the ring keeps at most `capacity` events and `maxBytes` of their text,
// dropping the oldest first. A follower is a cursor into the ring, so its
// queue is the ring itself. A follower that falls behind the oldest event
// kept is ended with EventsMissedError, which says how many events it missed
// and the id to resume after (`sinceId`); resuming from an id older than the
// ring starts at the oldest event still kept.
import { boundPayload, payloadBytes } from "./event-bounds.js";
import type { EventBus, EventPayload, EventQuery, MachineEvent } from "./events.js";

export interface EventBusOptions {
  /** Events kept for replay and slow followers. Default 1000. */
  capacity?: number;
  /** Bytes of event text kept, at most; the oldest events go first. Default `defaultRingBytes`. */
  maxBytes?: number;
}

/** The ring's default byte budget: 1000 small events, or fewer large ones. */
export const defaultRingBytes = 2 * 1024 * 1024;

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

/** The ring: event `id` lives in slot `(id - 1) % capacity`; ids from `oldest` to `nextId - 1` are kept. */
interface Ring {
  slots: (MachineEvent | undefined)[];
  /** The id the next published event gets. */
  nextId: number;
  /** The oldest id still kept. */
  oldest: number;
  /** The text bytes of the events kept, and the budget for them. */
  bytes: number;
  maxBytes: number;
}

/** Creates an event bus keeping the last `capacity` events within `maxBytes`. */
export function createEventBus({ capacity = 1000, maxBytes = defaultRingBytes }: EventBusOptions = {}): EventBus {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new TypeError(`Expected the \`capacity\` option to be a positive integer, got \`${capacity}\``);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new TypeError(`Expected the \`maxBytes\` option to be a positive integer, got \`${maxBytes}\``);
  }
  const ring: Ring = { slots: new Array(capacity), nextId: 1, oldest: 1, bytes: 0, maxBytes };
  const wakers = new Set<() => void>();
  return {
    publish: (payload) => publish(ring, wakers, payload),
    watch: (query) => watch(ring, wakers, query),
  };
}

/** Appends an event (bounded), drops the oldest while over count or bytes, and wakes every follower. */
function publish(ring: Ring, wakers: Set<() => void>, payload: EventPayload): MachineEvent {
  const event: MachineEvent = { id: ring.nextId, time: new Date(), payload: boundPayload(payload) };
  const capacity = ring.slots.length;
  if (ring.nextId - ring.oldest === capacity) dropOldest(ring);
  ring.slots[(event.id - 1) % capacity] = event;
  ring.nextId++;
  ring.bytes += payloadBytes(event.payload);
  while (ring.bytes > ring.maxBytes && ring.oldest < event.id) dropOldest(ring);
  for (const wake of [...wakers]) wake();
  return event;
}

/** Forgets the oldest event kept. */
function dropOldest(ring: Ring): void {
  const slot = (ring.oldest - 1) % ring.slots.length;
  ring.bytes -= payloadBytes(ring.slots[slot]!.payload);
  ring.slots[slot] = undefined;
  ring.oldest++;
}

/** The first id a query delivers, decided when watch() is called; a future sinceId means "from now". */
function firstId(ring: Ring, { sinceId, tail }: EventQuery): number {
  if (sinceId > 0) return Math.min(Math.max(sinceId + 1, ring.oldest), ring.nextId);
  if (tail < 0) return ring.oldest;
  return Math.max(ring.nextId - tail, ring.oldest);
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
    if (next < ring.oldest) throw new EventsMissedError(ring.oldest - next, next - 1);
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
