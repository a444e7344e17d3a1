// The link's frames as both ends read them: whole however the bytes are cut,
// a frame past the limit refused from its head, open and status payloads
// checked, and deadlines as milliseconds that setTimeout can hold.
import { status } from "@grpc/grpc-js";
import t from "tap";
import { type Frame, FrameReader, frame, Kind, maxFrameBytes, openPayload, readOpen, readStatus, statusPayload, timeoutMs } from "../../src/grpc/link-frames.js";

const shape = (f: Frame) => [f.kind, f.id, f.payload.toString("hex")];

t.test("frames come out whole however the bytes are cut", async (t) => {
  const sent: [Kind, number, Buffer][] = [
    [Kind.open, 1, openPayload({ path: "/a.B/C", metadata: { m: "1" } })],
    [Kind.message, 1, Buffer.alloc(70_000, 3)],
    [Kind.end, 1, Buffer.alloc(0)],
    [Kind.message, 4_000_000_000, Buffer.from("last")],
  ];
  const wire = Buffer.concat(sent.flatMap(([k, id, p]) => frame(k, id, p)));
  for (const size of [1, 2, 9, 10, 4096, wire.length]) {
    const reader = new FrameReader();
    const out: Frame[] = [];
    for (let i = 0; i < wire.length; i += size) out.push(...reader.push(wire.subarray(i, i + size)));
    t.same(out.map(shape), sent.map(([k, id, p]) => [k, id, p.toString("hex")]), `chunks of ${size}`);
  }
});

t.test("a frame over the limit is refused from its head, before its payload arrives", async (t) => {
  const head = frame(Kind.message, 1)[0]!;
  head.writeUInt32BE(maxFrameBytes + 1, 0);
  t.throws(() => [...new FrameReader().push(head)], { message: `a link frame of ${maxFrameBytes + 1} bytes is over the ${maxFrameBytes}-byte limit` });
  head.writeUInt32BE(maxFrameBytes, 0);
  t.same([...new FrameReader().push(head)], [], "at the limit it waits for the payload");
});

t.test("an open frame needs a path and metadata; a status carries its code and message", async (t) => {
  t.same(readOpen(openPayload({ path: "/p", metadata: {}, timeoutMs: 5 })), { path: "/p", metadata: {}, timeoutMs: 5 });
  t.throws(() => readOpen(Buffer.from("{")), { code: status.INTERNAL, message: "the link's open frame is not JSON" });
  t.throws(() => readOpen(Buffer.from('{"path":1,"metadata":{}}')), { code: status.INTERNAL, message: "the link's open frame lacks a path or metadata" });
  t.throws(() => readOpen(Buffer.from("null")), { code: status.INTERNAL });
  t.throws(() => readOpen(Buffer.from('{"path":"/p","metadata":{"x":1}}')), { code: status.INTERNAL, message: "the link's open frame has metadata that is not a string" });
  t.equal(readStatus(statusPayload(0, "")), undefined);
  t.match(readStatus(statusPayload(9, "not now: ü")), { code: status.FAILED_PRECONDITION, message: "not now: ü" });
  t.match(readStatus(statusPayload(99, "?")), { code: status.UNKNOWN });
  t.match(readStatus(Buffer.alloc(0)), { code: status.UNKNOWN }, "an empty status is not OK");
});

t.test("deadlines: milliseconds left, at least 1, at most 2^31-1; none for no deadline", async (t) => {
  const now = Date.now();
  t.equal(timeoutMs(Number.POSITIVE_INFINITY), undefined);
  t.ok(Math.abs(timeoutMs(now + 5000)! - 5000) < 1000);
  t.equal(timeoutMs(now - 10), 1, "a deadline already past still gives the least");
  t.ok(timeoutMs(new Date(now + 2e8))! > 1.9e8, "a Date");
  t.equal(timeoutMs(now + 1e12), 2 ** 31 - 1, "capped where setTimeout still holds");
});
