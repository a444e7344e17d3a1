// Several streams as one, in arrival order.
import t from "tap";
import { interleave } from "../../src/apid/interleave.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Yields `items` with `gapMs` between them. */
async function* slow<T>(items: T[], gapMs: number) {
  for (const x of items) {
    await sleep(gapMs);
    yield x;
  }
}

t.test("yields items in the order they arrive and ends when every source has", async (t) => {
  const out: string[] = [];
  for await (const x of interleave([slow(["a1", "a2"], 30), slow(["b1", "b2", "b3"], 5)])) out.push(x);
  t.same(out.slice(0, 3), ["b1", "b2", "b3"]);
  t.same(out.sort(), ["a1", "a2", "b1", "b2", "b3"]);
});

t.test("stops every source when the consumer stops", async (t) => {
  let stopped = 0;
  async function* endless(name: string) {
    try {
      for (let i = 0; ; i++) {
        await sleep(1);
        yield `${name}${i}`;
      }
    } finally {
      stopped++;
    }
  }
  for await (const x of interleave([endless("a"), endless("b")])) if (x === "a3") break;
  await sleep(20);
  t.equal(stopped, 2);
});
