import t from "tap";
import { createByteRing, lastLines } from "../../../src/machined/logs/byte-ring.js";

const text = (b: Buffer) => b.toString();

t.test("returns the last N lines, a trailing newline not starting a new one", async (t) => {
  const ring = createByteRing(1024);
  ring.append(Buffer.from("one\ntwo\nthree\n"));
  t.equal(text(ring.tail(2)), "two\nthree\n");
  t.equal(text(ring.tail(0)), "");
  t.equal(text(ring.tail(-1)), "one\ntwo\nthree\n");
  t.equal(text(ring.tail(10)), "one\ntwo\nthree\n");
});

t.test("counts an unterminated last line as a line", async (t) => {
  t.equal(text(lastLines(Buffer.from("a\nb\npartial"), 2)), "b\npartial");
  t.equal(text(lastLines(Buffer.from("\n"), 1)), "\n");
});

t.test("keeps only the newest bytes and drops the partial first line after wrapping", async (t) => {
  const ring = createByteRing(16);
  ring.append(Buffer.from("line-1\nline-2\n"));
  ring.append(Buffer.from("line-3\nline-4\n"));
  t.equal(ring.size, 16);
  t.equal(text(ring.tail(-1)), "line-3\nline-4\n");
});

t.test("keeps the end of a chunk larger than the ring", async (t) => {
  const ring = createByteRing(8);
  ring.append(Buffer.from("0123456789\nabcdef\n"));
  t.equal(text(ring.tail(-1)), "abcdef\n");
});
