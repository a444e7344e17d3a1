// gRPC's wire format as apid's client reads it: message frames split across
// any chunking, grpc-timeout's units, and the statuses a call can end with.
import http2 from "node:http2";
import { status } from "@grpc/grpc-js";
import t from "tap";
import { grpcTimeout, MessageFrames, messageFrame, statusFromHeaders, statusOfReset } from "../../src/grpc/wire.js";

const framed = (...bodies: Buffer[]) => Buffer.concat(bodies.flatMap((b) => messageFrame(b)));

t.test("messages come out whole however the bytes are cut", async (t) => {
  const bodies = [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(70_000, 3), Buffer.from("last")];
  const wire = framed(...bodies);
  for (const size of [1, 2, 5, 6, 4096, wire.length]) {
    const frames = new MessageFrames(1 << 20);
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) out.push(...frames.push(wire.subarray(i, i + size)));
    frames.end();
    t.same(out.map((b) => b.toString("hex")), bodies.map((b) => b.toString("hex")), `chunks of ${size}`);
  }
});

t.test("a stream that ends inside a message, a compressed message and one over the limit are refused", async (t) => {
  const cut = new MessageFrames(100);
  t.same([...cut.push(framed(Buffer.from("hello")).subarray(0, 7))], []);
  t.throws(() => cut.end(), { code: status.INTERNAL, message: "the answer ended inside a message" });
  const compressed = Buffer.from([1, 0, 0, 0, 1, 9]);
  t.throws(() => [...new MessageFrames(100).push(compressed)], { code: status.INTERNAL, message: "a compressed message (flag 1) arrived, though none was asked for" });
  t.throws(() => [...new MessageFrames(100).push(framed(Buffer.alloc(101)).subarray(0, 5))], { code: status.RESOURCE_EXHAUSTED, message: "an answer of 101 bytes is over the 100-byte limit" }, "refused from its head, before the body arrives");
});

t.test("grpc-timeout: milliseconds up to 8 digits, then seconds, at most 2^31-1 ms; none for no deadline", async (t) => {
  const now = Date.now();
  t.equal(grpcTimeout(Number.POSITIVE_INFINITY), undefined);
  t.match(grpcTimeout(now + 5000)!.header, /^\d{4}m$/);
  t.equal(grpcTimeout(now - 10)!.header, "1m", "a deadline already past still sends the least");
  t.match(grpcTimeout(new Date(now + 2e8))!.header, /^\d{6}S$/);
  t.same(grpcTimeout(now + 1e12), { header: "2147483S", ms: 2 ** 31 - 1 }, "capped where grpc-js's 32-bit read and setTimeout still hold");
});

t.test("statuses: trailers, a trailers-only answer, HTTP errors, resets", async (t) => {
  t.equal(statusFromHeaders({ "grpc-status": "0" }), undefined);
  t.match(statusFromHeaders({ "grpc-status": "5", "grpc-message": "no%20such%20service%3A%20%25x" }), { code: status.NOT_FOUND, message: "no such service: %x" });
  t.match(statusFromHeaders({ "grpc-status": "3", "grpc-message": "100%" }), { code: status.INVALID_ARGUMENT, message: "100%" }, "kept as sent when it does not decode");
  t.match(statusFromHeaders({ "grpc-status": "99" }), { code: status.UNKNOWN });
  t.match(statusFromHeaders({}, { ":status": "503" }), { code: status.UNAVAILABLE, message: "the server answered HTTP 503" });
  t.match(statusFromHeaders({}, { ":status": "200" }), { code: status.UNKNOWN, message: "the call ended without a status" });
  const c = http2.constants;
  t.match(statusOfReset(c.NGHTTP2_REFUSED_STREAM, new Error("x")), { code: status.UNAVAILABLE });
  t.match(statusOfReset(c.NGHTTP2_CANCEL, new Error("x")), { code: status.CANCELLED });
  t.match(statusOfReset(c.NGHTTP2_ENHANCE_YOUR_CALM, new Error("x")), { code: status.RESOURCE_EXHAUSTED });
  t.match(statusOfReset(c.NGHTTP2_PROTOCOL_ERROR, new Error("x")), { code: status.INTERNAL, message: "the server reset the stream (HTTP/2 code 1): x" });
  t.match(statusOfReset(undefined, new Error("connect ENOENT /run/m.sock")), { code: status.UNAVAILABLE, message: "the connection failed: connect ENOENT /run/m.sock" });
});
