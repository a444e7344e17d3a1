// A one-reader queue between a producer and an async iterator: what a
// sequence's task reports while it runs, read by the RPC that started it.
// The producer never waits; the reader sees every item, then the end or the
// error the channel was closed with.

export interface Channel<T> extends AsyncIterable<T> {
  push(item: T): void;
  /** Ends the iteration after the items already pushed; with `err`, it then throws. */
  close(err?: unknown): void;
}

export function createChannel<T>(): Channel<T> {
  const items: T[] = [];
  let ended: { err?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  return {
    push: (item) => {
      items.push(item);
      poke();
    },
    close: (err) => {
      ended = err === undefined ? {} : { err };
      poke();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length) yield items.shift() as T;
        if (ended) {
          if ("err" in ended) throw ended.err;
          return;
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
