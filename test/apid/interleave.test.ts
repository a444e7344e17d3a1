// Several streams as one, in arrival order.
import t from "tap";
import { interleave } from "../../src/apid/interleave.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("yields items in the order they arrive and ends when every source has", async (t) => {
  // a's items arrive only once b has sent all of its own: the order is fixed without timers.
  let releaseA = () => {};
  const gateA = new Promise<void>((r) => {
    releaseA = r;
  });
  async function* a() {
    await gateA;
    yield "a1";
    yield "a2";
  }
  async function* b() {
    yield "b1";
    yield "b2";
    yield "b3";
    releaseA();
  }
  const out: string[] = [];
  for await (const x of interleave([a(), b()])) out.push(x);
  t.same(out, ["b1", "b2", "b3", "a1", "a2"]);
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
