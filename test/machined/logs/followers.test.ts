import t from "tap";
import { createFollowers } from "../../../src/machined/logs/followers.js";

/** Reads from an iterator until `n` chunks arrived, as text. */
async function take(it: AsyncIterator<Uint8Array>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) out.push(Buffer.from((await it.next()).value!).toString());
  return out;
}

t.test("hands every chunk to every follower", async (t) => {
  const f = createFollowers(1024);
  const ac = new AbortController();
  const a = f.follow(ac.signal)[Symbol.asyncIterator]();
  const b = f.follow(ac.signal)[Symbol.asyncIterator]();
  f.publish(Buffer.from("x"));
  f.publish(Buffer.from("y"));
  t.same(await take(a, 2), ["x", "y"]);
  t.same(await take(b, 2), ["x", "y"]);
  ac.abort();
});

t.test("drops output past a slow follower's limit and marks where", async (t) => {
  const f = createFollowers(10);
  const ac = new AbortController();
  const it = f.follow(ac.signal)[Symbol.asyncIterator]();
  for (const s of ["12345", "67890", "abcde", "fghij", "k"]) f.publish(Buffer.from(s));
  t.same(await take(it, 2), ["12345", "67890"]);
  f.publish(Buffer.from("after"));
  t.same(await take(it, 2), ["\n[kiln: 11 bytes dropped]\n", "after"]);
  ac.abort();
});

t.test("reports drops at the end even when nothing follows them", async (t) => {
  const f = createFollowers(4);
  const ac = new AbortController();
  const it = f.follow(ac.signal)[Symbol.asyncIterator]();
  f.publish(Buffer.from("1234"));
  f.publish(Buffer.from("5678"));
  t.same(await take(it, 2), ["1234", "\n[kiln: 4 bytes dropped]\n"]);
  ac.abort();
});

t.test("detaches a follower when its signal aborts", async (t) => {
  const f = createFollowers(16);
  const ac = new AbortController();
  const it = f.follow(ac.signal)[Symbol.asyncIterator]();
  t.equal(f.count, 1);
  const pending = it.next();
  ac.abort();
  t.equal((await pending).done, true);
  t.equal(f.count, 0);
});
