// Followers of a service's log. Each has a bounded queue: when a reader is
// slower than the service, new output is dropped (never buffered without
// bound) and the reader later sees "[kiln: N bytes dropped]" where it was.

export interface Followers {
  /** Hands a chunk to every follower; never blocks and never grows a queue past its limit. */
  publish(chunk: Uint8Array): void;
  /** Output written from now on, until the signal aborts. */
  follow(signal: AbortSignal): AsyncIterable<Uint8Array>;
  /** How many followers are attached. */
  readonly count: number;
}

/** One follower's queue. */
interface Queue {
  chunks: Uint8Array[];
  bytes: number;
  /** Bytes dropped since the last marker. */
  dropped: number;
  wake: (() => void) | undefined;
}

/** The marker a reader sees in place of dropped output. */
export function droppedMarker(bytes: number): Uint8Array {
  return Buffer.from(`\n[kiln: ${bytes} bytes dropped]\n`);
}

/** Creates a follower set whose queues hold at most `limitBytes` each. */
export function createFollowers(limitBytes: number): Followers {
  const queues = new Set<Queue>();
  return {
    publish(chunk) {
      for (const q of queues) enqueue(q, chunk, limitBytes);
    },
    follow(signal) {
      const q: Queue = { chunks: [], bytes: 0, dropped: 0, wake: undefined };
      queues.add(q);
      signal.addEventListener("abort", () => queues.delete(q), { once: true });
      return { [Symbol.asyncIterator]: () => drain(q, signal, () => queues.delete(q)) };
    },
    get count() {
      return queues.size;
    },
  };
}

/** Queues a chunk, or counts it as dropped when the queue is full. */
function enqueue(q: Queue, chunk: Uint8Array, limit: number): void {
  if (q.bytes + chunk.length > limit) {
    q.dropped += chunk.length;
  } else {
    if (q.dropped > 0) push(q, droppedMarker(q.dropped));
    q.dropped = 0;
    push(q, chunk);
  }
  q.wake?.();
}

/** Appends to the queue. */
function push(q: Queue, chunk: Uint8Array): void {
  q.chunks.push(chunk);
  q.bytes += chunk.length;
}

/** Yields queued chunks (and a final marker for trailing drops) until aborted. */
async function* drain(q: Queue, signal: AbortSignal, detach: () => void): AsyncGenerator<Uint8Array> {
  try {
    while (!signal.aborted) {
      const chunk = q.chunks.shift();
      if (chunk) {
        q.bytes -= chunk.length;
        yield chunk;
      } else if (q.dropped > 0) {
        yield droppedMarker(q.dropped);
        q.dropped = 0;
      } else await woken(q, signal);
    }
  } finally {
    detach();
  }
}

/** Resolves on the next enqueue or when the signal aborts. */
function woken(q: Queue, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      q.wake = undefined;
      signal.removeEventListener("abort", done);
      resolve();
    };
    q.wake = done;
    signal.addEventListener("abort", done, { once: true });
  });
}
