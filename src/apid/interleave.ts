// Several async iterables as one, items in the order they arrive. Each source
// has at most one pending next(), so a slow consumer slows every source.

/** Yields items from every source as they come; ends when all have ended; stops them all when the consumer stops. */
export async function* interleave<T>(sources: AsyncIterable<T>[]): AsyncIterable<T> {
  const its = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map(its.map((it, i) => [i, pull(it, i)]));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        pending.set(i, pull(its[i]!, i));
        yield r.value;
      }
    }
  } finally {
    // Not awaited: a source blocked in next() finishes its return() only once it wakes (its signal aborts).
    for (const p of pending.values()) p.catch(() => {});
    for (const it of its) it.return?.().catch(() => {});
  }
}

/** The next item of one source, labelled with its index. */
function pull<T>(it: AsyncIterator<T>, i: number): Promise<{ i: number; r: IteratorResult<T> }> {
  return it.next().then((r) => ({ i, r }));
}
