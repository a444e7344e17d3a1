// apid's own gRPC client toward machined (plain HTTP/2 on a unix socket),
// against a real grpc-js server like machined's: answers, statuses, streams
// both ways, deadlines, cancels, size limits and reconnects.
import { join } from "node:path";
import { type Metadata, Server, ServerCredentials, type ServerReadableStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from "@grpc/grpc-js";
import t from "tap";
import { createSocketUpstream } from "../../src/apid/socket-upstream.js";
import type { ForwardOptions } from "../../src/apid/upstream.js";
import { scratchDir } from "../fixtures/scratch.js";

const same = (b: Buffer) => b;
const method = (name: string, requestStream = false, responseStream = false) => ({
  path: `/t.T/${name}`,
  requestStream,
  responseStream,
  requestSerialize: same,
  requestDeserialize: same,
  responseSerialize: same,
  responseDeserialize: same,
  originalName: name,
});
const definition = { echo: method("Echo"), fail: method("Fail"), hang: method("Hang"), big: method("Big"), count: method("Count", false, true), sum: method("Sum", true), hold: method("Hold", true), slow: method("Slow") };

/** What the server saw. */
interface Seen {
  metadata?: Metadata;
  deadline?: number;
  cancelled: string[];
  received: number[];
  /** Client streams whose request side the server saw end (half-closed, reset or cancelled). */
  over: string[];
}

/** A grpc-js server on a fresh unix socket; `restart` binds a new one on the same path. */
async function startServer(t: { teardown(fn: () => unknown): void }, sock = join(scratchDir("kiln-upstream-"), "m.sock")) {
  const seen: Seen = { cancelled: [], received: [], over: [] };
  const server = new Server();
  server.addService(definition, {
    echo: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      seen.metadata = call.metadata;
      const d = call.getDeadline();
      seen.deadline = d instanceof Date ? d.getTime() : d;
      cb(null, Buffer.concat([Buffer.from("echo:"), call.request]));
    },
    fail: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb({ code: status.FAILED_PRECONDITION, details: "100% wrong: ü\nline two" }),
    hang: (call: ServerUnaryCall<Buffer, Buffer>) => call.on("cancelled", () => seen.cancelled.push("hang")),
    big: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, Buffer.alloc(call.request.readUInt32BE(0), 1)),
    count: (call: ServerWritableStream<Buffer, Buffer>) => {
      call.on("cancelled", () => seen.cancelled.push("count"));
      const n = call.request.readUInt32BE(0);
      let i = 0;
      const next = () => {
        if (call.cancelled) return;
        if (i === n) {
          call.end();
          return;
        }
        // Every third message is 256 KiB, so messages span HTTP/2 frames and chunks.
        const m = Buffer.alloc(i % 3 === 2 ? 256 * 1024 : 4, i);
        m.writeUInt32BE(i++, 0);
        if (call.write(m)) setImmediate(next);
        else call.once("drain", next);
      };
      next();
    },
    sum: (call: ServerReadableStream<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      call.on("cancelled", () => seen.cancelled.push("sum"));
      call.on("cancelled", () => seen.over.push("sum"));
      call.on("end", () => seen.over.push("sum"));
      let total = 0;
      call.on("data", (m: Buffer) => {
        seen.received.push(m.length);
        total += m.length;
        if (m.length === 0) cb(null, Buffer.from(`early ${total}`));
      });
      call.on("end", () => cb(null, Buffer.from(`total ${total}`)));
    },
    slow: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => setTimeout(() => cb(null, Buffer.from("slow")), 50),
    // reads nothing for a second, then answers
    hold: (call: ServerReadableStream<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      call.pause();
      setTimeout(() => cb(null, Buffer.from("held")), 1000);
    },
  });
  await new Promise<void>((ok, fail) => server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? fail(err) : ok())));
  t.teardown(() => server.forceShutdown());
  return { sock, seen, server };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const opts = (o: Partial<ForwardOptions> = {}): ForwardOptions => ({ deadline: Date.now() + 10_000, signal: new AbortController().signal, ...o });
const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; message: string };
    return { code: e.code, message: e.message };
  }
  throw new Error("the call did not fail");
};

t.test("a unary call: the answer's bytes, the metadata and the deadline reach the server", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const deadline = Date.now() + 7_000;
  const answer = await up.unary("/t.T/Echo", Buffer.from("hi"), opts({ deadline, metadata: { "x-kiln-mode": "mtls" } }));
  t.equal(answer.toString(), "echo:hi");
  t.same(seen.metadata?.get("x-kiln-mode"), ["mtls"]);
  t.ok(Math.abs(seen.deadline! - deadline) < 1000, "the server has the caller's deadline");
  t.equal((await up.unary("/t.T/Echo", Buffer.alloc(0), opts())).toString(), "echo:", "an empty request");
});

t.test("the server's status comes back with its code and its message decoded", async (t) => {
  const { sock } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  t.same(await failure(up.unary("/t.T/Fail", Buffer.alloc(0), opts())), { code: status.FAILED_PRECONDITION, message: "100% wrong: ü\nline two" });
  t.same(await failure(up.unary("/t.T/Nope", Buffer.alloc(0), opts())), { code: status.UNIMPLEMENTED, message: "The server does not implement the method /t.T/Nope" });
});

t.test("a server stream: every message in order, 256 KiB ones across chunks", async (t) => {
  const { sock } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const got: number[][] = [];
  for await (const m of up.stream("/t.T/Count", u32(30), opts())) got.push([m.readUInt32BE(0), m.length]);
  t.same(got, Array.from({ length: 30 }, (_, i) => [i, i % 3 === 2 ? 256 * 1024 : 4]));
});

t.test("a consumer that stops reading cancels the server's stream", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  let n = 0;
  for await (const _ of up.stream("/t.T/Count", u32(1_000_000), opts())) if (++n === 5) break;
  await waitFor(() => seen.cancelled.includes("count"));
  t.pass("the server saw the cancel");
});

t.test("the caller's abort cancels a call in flight, and the server sees it", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const ac = new AbortController();
  const call = up.unary("/t.T/Hang", Buffer.alloc(0), opts({ signal: ac.signal }));
  setTimeout(() => ac.abort(), 100);
  t.same(await failure(call), { code: status.CANCELLED, message: "the caller cancelled the call" });
  await waitFor(() => seen.cancelled.includes("hang"));
  const gone = new AbortController();
  gone.abort();
  t.equal((await failure(up.unary("/t.T/Echo", Buffer.alloc(0), opts({ signal: gone.signal })))).code, status.CANCELLED, "an abort before the call");
});

t.test("a call past its deadline fails with DEADLINE_EXCEEDED", async (t) => {
  const { sock } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const started = Date.now();
  t.equal((await failure(up.unary("/t.T/Hang", Buffer.alloc(0), opts({ deadline: Date.now() + 300 })))).code, status.DEADLINE_EXCEEDED);
  t.ok(Date.now() - started < 5000, `in ${Date.now() - started} ms`);
});

t.test("an answer over the limit is refused, naming both sizes", async (t) => {
  const { sock } = await startServer(t);
  const up = createSocketUpstream(sock, 64 * 1024);
  t.teardown(() => up.close());
  t.equal((await up.unary("/t.T/Big", u32(64 * 1024), opts())).length, 64 * 1024, "at the limit");
  t.same(await failure(up.unary("/t.T/Big", u32(64 * 1024 + 1), opts())), { code: status.RESOURCE_EXHAUSTED, message: "an answer of 65537 bytes is over the 65536-byte limit" });
  t.equal((await up.unary("/t.T/Echo", Buffer.from("x"), opts())).toString(), "echo:x", "the connection still serves");
});

t.test("a client stream: every message in order under flow control, then the answer", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const sizes = [1, 1 << 20, 3, 2 << 20, 5];
  async function* requests() {
    for (const n of sizes) yield Buffer.alloc(n, 2);
  }
  t.equal((await up.clientStream("/t.T/Sum", requests(), opts())).toString(), `total ${sizes.reduce((a, b) => a + b)}`);
  t.same(seen.received, sizes);
});

t.test("the server's early answer ends the sending; the caller's failure cancels the call", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  let asked = 0;
  async function* endless() {
    for (;;) {
      asked++;
      yield Buffer.alloc(asked === 3 ? 0 : 10);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  t.equal((await up.clientStream("/t.T/Sum", endless(), opts())).toString(), "early 20");
  await waitFor(() => seen.over.includes("sum"));
  t.pass("the stream is closed after the early answer: machined holds nothing for it");
  t.ok(asked <= 4, `asked for ${asked} messages`);
  seen.over.length = 0;
  async function* broken() {
    yield Buffer.alloc(10);
    throw new Error("the caller went away");
  }
  t.same(await failure(up.clientStream("/t.T/Sum", broken(), opts())), { code: undefined, message: "the caller went away" });
  await waitFor(() => seen.cancelled.includes("sum"));
});

t.test("answers after a server shuts down with an early-answered stream: no error escapes", async (t) => {
  const { sock, server } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  async function* twoThenWait() {
    yield Buffer.alloc(10);
    yield Buffer.alloc(0);
    await new Promise((r) => setTimeout(r, 500));
  }
  t.equal((await up.clientStream("/t.T/Sum", twoThenWait(), opts())).toString(), "early 10");
  server.forceShutdown();
  await new Promise((r) => setTimeout(r, 300));
  t.pass("apid is still here");
});

t.test("several large client streams on one connection do not starve its other calls", async (t) => {
  const { sock } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  async function* big() {
    for (let i = 0; i < 3; i++) yield Buffer.alloc(4 * 1024 * 1024 - 16, i);
  }
  const held = [1, 2, 3, 4].map(() => up.clientStream("/t.T/Hold", big(), opts()));
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await up.unary("/t.T/Echo", Buffer.from("x"), opts())).toString(), "echo:x", "with 16 MiB waiting to be sent");
  t.same((await Promise.all(held)).map(String), ["held", "held", "held", "held"]);
});

t.test("a deadline weeks away holds on both sides (capped at ~24.8 days, not wrapped around)", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const far = { deadline: Date.now() + 30 * 86_400_000 };
  t.equal((await up.unary("/t.T/Slow", Buffer.alloc(0), opts(far))).toString(), "slow", "a call of 50 ms");
  await up.unary("/t.T/Echo", Buffer.alloc(0), opts(far));
  t.ok(seen.deadline! - Date.now() > 24 * 86_400_000, "machined has a deadline more than 24 days away");
});

t.test("no server is UNAVAILABLE; a server that comes back is reached again; close ends it", async (t) => {
  const sock = join(scratchDir("kiln-upstream-"), "m.sock");
  const up = createSocketUpstream(sock);
  t.teardown(() => up.close());
  const none = await failure(up.unary("/t.T/Echo", Buffer.alloc(0), opts()));
  t.equal(none.code, status.UNAVAILABLE);
  t.match(none.message, /ENOENT/);
  const first = await startServer(t, sock);
  t.equal((await up.unary("/t.T/Echo", Buffer.from("1"), opts())).toString(), "echo:1");
  first.server.forceShutdown();
  await waitFor(async () => (await failure(up.unary("/t.T/Echo", Buffer.alloc(0), opts()))).code === status.UNAVAILABLE);
  await startServer(t, sock);
  t.equal((await up.unary("/t.T/Echo", Buffer.from("2"), opts())).toString(), "echo:2", "after machined restarted");
  up.close();
  t.equal((await failure(up.unary("/t.T/Echo", Buffer.alloc(0), opts()))).code, status.UNAVAILABLE, "after close");
});

/** Polls `check` every 20 ms for up to 5 s. */
async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out waiting");
}
