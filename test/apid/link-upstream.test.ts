// apid's client toward machined over the link (src/grpc/link-*.ts), against
// the real link server machined runs: answers, statuses, streams both ways
// under flow control, deadlines, cancels, size limits, the per-connection
// call limit, a broken peer and reconnects.
import { connect } from "node:net";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import t from "tap";
import { createLinkUpstream } from "../../src/apid/link-upstream.js";
import type { ForwardOptions } from "../../src/apid/upstream.js";
import { ApiError } from "../../src/grpc/errors.js";
import { frame, Kind, linkWindowBytes } from "../../src/grpc/link-frames.js";
import { createLinkServer, type LinkCall, type LinkHandler, type LinkServerOptions } from "../../src/grpc/link-server.js";
import { scratchDir } from "../fixtures/scratch.js";

/** What the server saw. */
interface Seen {
  call?: LinkCall;
  cancelled: string[];
  received: number[];
  /** Messages a server stream had handed over when it was last asked for one. */
  produced: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves when `call`'s signal aborts, recording `name`. */
const onAbort = (seen: Seen, name: string, call: LinkCall) => call.signal.addEventListener("abort", () => seen.cancelled.push(name), { once: true });

function handlers(seen: Seen): Record<string, LinkHandler> {
  return {
    Echo: {
      kind: "unary",
      run: async (req, call) => {
        seen.call = call;
        return Buffer.concat([Buffer.from("echo:"), req]);
      },
    },
    Fail: {
      kind: "unary",
      run: async () => {
        throw new ApiError(status.FAILED_PRECONDITION, "100% wrong: ü\nline two");
      },
    },
    Hang: {
      kind: "unary",
      run: (_req, call) => {
        onAbort(seen, "hang", call);
        return new Promise(() => {});
      },
    },
    Big: { kind: "unary", run: async (req) => Buffer.alloc(req.readUInt32BE(0), 1) },
    Slow: {
      kind: "unary",
      run: async () => {
        await sleep(50);
        return Buffer.from("slow");
      },
    },
    Count: {
      kind: "server_streaming",
      run: async function* (req, call) {
        onAbort(seen, "count", call);
        const n = req.readUInt32BE(0);
        for (let i = 0; i < n; i++) {
          // Every third message is 256 KiB, so messages span frames and chunks.
          const m = Buffer.alloc(i % 3 === 2 ? 256 * 1024 : 4, i);
          m.writeUInt32BE(i, 0);
          seen.produced = i + 1;
          yield m;
        }
      },
    },
    Sum: {
      kind: "client_streaming",
      run: async (reqs, call) => {
        onAbort(seen, "sum", call);
        let total = 0;
        for await (const m of reqs) {
          seen.received.push(m.length);
          total += m.length;
          if (m.length === 0) return Buffer.from(`early ${total}`);
        }
        return Buffer.from(`total ${total}`);
      },
    },
    // reads nothing for a second, then answers
    Hold: {
      kind: "client_streaming",
      run: async () => {
        await sleep(1000);
        return Buffer.from("held");
      },
    },
  };
}

/** A link server on a fresh unix socket (or `sock`), serving /t.T/<name>. */
async function startServer(t: { teardown(fn: () => unknown): void }, sock = join(scratchDir("kiln-link-"), "m.sock"), o: Partial<LinkServerOptions> = {}) {
  const seen: Seen = { cancelled: [], received: [], produced: 0 };
  const hs = handlers(seen);
  const link = createLinkServer({
    route: (path) => (path.startsWith("/t.T/") ? hs[path.slice(5)] : undefined),
    toStatus: (err) => {
      const e = ApiError.from(err);
      return { code: e.code, details: e.message };
    },
    ...o,
  });
  await new Promise<void>((ok) => link.server.listen(sock, ok));
  t.teardown(() => link.close(0));
  return { sock, seen, link };
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
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const deadline = Date.now() + 7_000;
  const answer = await up.unary("/t.T/Echo", Buffer.from("hi"), opts({ deadline, metadata: { "x-kiln-mode": "mtls" } }));
  t.equal(answer.toString(), "echo:hi");
  t.same(seen.call?.metadata, { "x-kiln-mode": "mtls" });
  t.ok(Math.abs(seen.call!.deadline - deadline) < 1000, "the server has the caller's deadline");
  t.equal((await up.unary("/t.T/Echo", Buffer.alloc(0), opts())).toString(), "echo:", "an empty request");
  t.equal((await up.unary("/t.T/Echo", Buffer.alloc(0), opts({ deadline: Number.POSITIVE_INFINITY }))).toString(), "echo:", "no deadline");
  t.equal(seen.call?.deadline, Number.POSITIVE_INFINITY);
});

t.test("the server's status comes back with its code and its message", async (t) => {
  const { sock } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  t.same(await failure(up.unary("/t.T/Fail", Buffer.alloc(0), opts())), { code: status.FAILED_PRECONDITION, message: "100% wrong: ü\nline two" });
  t.same(await failure(up.unary("/t.T/Nope", Buffer.alloc(0), opts())), { code: status.UNIMPLEMENTED, message: "the server does not implement /t.T/Nope" });
});

t.test("a server stream: every message in order, 256 KiB ones across chunks", async (t) => {
  const { sock } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const got: number[][] = [];
  for await (const m of up.stream("/t.T/Count", u32(30), opts())) got.push([m.readUInt32BE(0), m.length]);
  t.same(got, Array.from({ length: 30 }, (_, i) => [i, i % 3 === 2 ? 256 * 1024 : 4]));
});

t.test("a reader that does not read holds the server's stream back to one window", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const it = up.stream("/t.T/Count", u32(1_000), opts())[Symbol.asyncIterator]();
  await it.next();
  await sleep(500);
  // Each three messages carry 256 KiB + 8 bytes: a window of N × 256 KiB is out after 3N of them, and the next waits for credit.
  const bound = Math.ceil((linkWindowBytes / (256 * 1024)) * 3) + 3;
  t.ok(seen.produced <= bound, `the server made ${seen.produced} messages, at most ${bound}`);
  let n = 1;
  while (!(await it.next()).done) n++;
  t.equal(n, 1_000, "once read, all of them");
});

t.test("a consumer that stops reading cancels the server's stream", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  let n = 0;
  for await (const _ of up.stream("/t.T/Count", u32(1_000_000), opts())) if (++n === 5) break;
  await waitFor(() => seen.cancelled.includes("count"));
  t.pass("the server saw the cancel");
});

t.test("the caller's abort cancels a call in flight, and the server sees it", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
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

t.test("a call past its deadline fails with DEADLINE_EXCEEDED, and the server's handler is aborted", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const started = Date.now();
  t.equal((await failure(up.unary("/t.T/Hang", Buffer.alloc(0), opts({ deadline: Date.now() + 300 })))).code, status.DEADLINE_EXCEEDED);
  t.ok(Date.now() - started < 5000, `in ${Date.now() - started} ms`);
  await waitFor(() => seen.cancelled.includes("hang"));
});

t.test("an answer over the limit is refused, naming both sizes", async (t) => {
  const { sock } = await startServer(t);
  const up = createLinkUpstream(sock, 64 * 1024);
  t.teardown(() => up.close());
  t.equal((await up.unary("/t.T/Big", u32(64 * 1024), opts())).length, 64 * 1024, "at the limit");
  t.same(await failure(up.unary("/t.T/Big", u32(64 * 1024 + 1), opts())), { code: status.RESOURCE_EXHAUSTED, message: "an answer of 65537 bytes is over the 65536-byte limit" });
  t.equal((await up.unary("/t.T/Echo", Buffer.from("x"), opts())).toString(), "echo:x", "the connection still serves");
});

t.test("a request over the server's limit ends its call with RESOURCE_EXHAUSTED", async (t) => {
  const { sock } = await startServer(t, undefined, { maxRequestBytes: 100 });
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  t.same(await failure(up.unary("/t.T/Echo", Buffer.alloc(101), opts())), { code: status.RESOURCE_EXHAUSTED, message: "a request of 101 bytes is over the 100-byte limit" });
  t.equal((await up.unary("/t.T/Echo", Buffer.alloc(100), opts())).length, 105, "at the limit");
});

t.test("a client stream: every message in order under flow control, then the answer", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
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
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  let asked = 0;
  async function* endless() {
    for (;;) {
      asked++;
      yield Buffer.alloc(asked === 3 ? 0 : 10);
      await sleep(5);
    }
  }
  t.equal((await up.clientStream("/t.T/Sum", endless(), opts())).toString(), "early 20");
  await waitFor(() => seen.cancelled.includes("sum"));
  t.pass("the call's signal aborted once it ended: machined holds nothing for it");
  t.ok(asked <= 4, `asked for ${asked} messages`);
  seen.cancelled.length = 0;
  async function* broken() {
    yield Buffer.alloc(10);
    throw new Error("the caller went away");
  }
  t.same(await failure(up.clientStream("/t.T/Sum", broken(), opts())), { code: undefined, message: "the caller went away" });
  await waitFor(() => seen.cancelled.includes("sum"));
});

t.test("answers after a server shuts down with an early-answered stream: no error escapes", async (t) => {
  const { sock, link } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  async function* twoThenWait() {
    yield Buffer.alloc(10);
    yield Buffer.alloc(0);
    await sleep(500);
  }
  t.equal((await up.clientStream("/t.T/Sum", twoThenWait(), opts())).toString(), "early 10");
  await link.close(0);
  await sleep(300);
  t.pass("apid is still here");
});

t.test("several large client streams on one connection do not starve its other calls", async (t) => {
  const { sock } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  async function* big() {
    for (let i = 0; i < 3; i++) yield Buffer.alloc(4 * 1024 * 1024 - 16, i);
  }
  const held = [1, 2, 3, 4].map(() => up.clientStream("/t.T/Hold", big(), opts()));
  await sleep(300);
  const started = Date.now();
  t.equal((await up.unary("/t.T/Echo", Buffer.from("x"), opts())).toString(), "echo:x", "with 32 MiB waiting to be sent");
  t.ok(Date.now() - started < 700, `before the held calls answer (${Date.now() - started} ms)`);
  t.same((await Promise.all(held)).map(String), ["held", "held", "held", "held"]);
});

t.test("calls past a connection's limit wait for one to end, in order; a waiting call can be cancelled", async (t) => {
  const { sock, seen } = await startServer(t, undefined, { maxCallsPerConnection: 1 });
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const ac = new AbortController();
  const hang = up.unary("/t.T/Hang", Buffer.alloc(0), opts({ signal: ac.signal }));
  await sleep(100);
  const waiting = new AbortController();
  const queued = up.unary("/t.T/Echo", Buffer.from("q"), opts({ signal: waiting.signal }));
  const after = up.unary("/t.T/Echo", Buffer.from("a"), opts());
  await sleep(200);
  t.equal(seen.call, undefined, "no Echo ran while Hang holds the connection");
  waiting.abort();
  t.equal((await failure(queued)).code, status.CANCELLED);
  ac.abort();
  await failure(hang);
  t.equal((await after).toString(), "echo:a", "the next one runs once Hang ends");
});

t.test("a peer that breaks the framing loses its connection, not the server", async (t) => {
  const { sock } = await startServer(t);
  const raw = connect(sock);
  await new Promise((r) => raw.once("connect", r));
  const closed = new Promise((r) => raw.once("close", r));
  raw.write(Buffer.concat(frame(Kind.message, 1, Buffer.alloc(0)).concat(frame(99 as Kind, 1))));
  raw.write(Buffer.concat(frame(Kind.open, 7, Buffer.from("{}"))));
  const head = Buffer.alloc(9);
  head.writeUInt32BE(0xffffffff, 0);
  raw.write(head);
  await closed;
  t.pass("a frame of an unknown kind or past the size limit closes the connection");
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  t.equal((await up.unary("/t.T/Echo", Buffer.from("x"), opts())).toString(), "echo:x", "others are served");
});

t.test("a unary call with two requests or none ends with INTERNAL, naming it", async (t) => {
  const { sock } = await startServer(t);
  const raw = connect(sock);
  t.teardown(() => raw.destroy());
  const got: Buffer[] = [];
  raw.on("data", (d: Buffer) => got.push(d));
  const open = (id: number) => frame(Kind.open, id, Buffer.from(JSON.stringify({ path: "/t.T/Echo", metadata: {} })));
  raw.write(Buffer.concat([...open(1), ...frame(Kind.message, 1, Buffer.from("a")), ...frame(Kind.message, 1, Buffer.from("b")), ...frame(Kind.end, 1)]));
  raw.write(Buffer.concat([...open(3), ...frame(Kind.end, 3)]));
  await waitFor(() => Buffer.concat(got).includes("without"));
  const text = Buffer.concat(got).toString("latin1");
  t.match(text, /more than one request message on a call that takes one/);
  t.match(text, /the call ended without its request message/);
});

t.test("a client that sends past its window loses its connection: machined never buffers more for it", async (t) => {
  const { sock } = await startServer(t);
  const raw = connect(sock);
  await new Promise((r) => raw.once("connect", r));
  const closed = new Promise((r) => raw.once("close", r));
  raw.on("error", () => {});
  raw.write(Buffer.concat(frame(Kind.open, 1, Buffer.from(JSON.stringify({ path: "/t.T/Hold", metadata: {} })))));
  // Hold reads nothing: after a window's worth the next message has no right to be sent.
  const piece = Buffer.concat(frame(Kind.message, 1, Buffer.alloc(16 * 1024)));
  for (let sent = 0; sent <= linkWindowBytes + 16 * 1024; sent += 16 * 1024) raw.write(piece);
  await closed;
  t.pass("closed");
});

t.test("a deadline weeks away holds on both sides (capped at ~24.8 days, not wrapped around)", async (t) => {
  const { sock, seen } = await startServer(t);
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const far = { deadline: Date.now() + 30 * 86_400_000 };
  t.equal((await up.unary("/t.T/Slow", Buffer.alloc(0), opts(far))).toString(), "slow", "a call of 50 ms");
  await up.unary("/t.T/Echo", Buffer.alloc(0), opts(far));
  t.ok(seen.call!.deadline - Date.now() > 24 * 86_400_000, "machined has a deadline more than 24 days away");
});

t.test("no server is UNAVAILABLE; a server that comes back is reached again; close ends it", async (t) => {
  const sock = join(scratchDir("kiln-link-"), "m.sock");
  const up = createLinkUpstream(sock);
  t.teardown(() => up.close());
  const none = await failure(up.unary("/t.T/Echo", Buffer.alloc(0), opts()));
  t.equal(none.code, status.UNAVAILABLE);
  t.match(none.message, /ENOENT/);
  const first = await startServer(t, sock);
  t.equal((await up.unary("/t.T/Echo", Buffer.from("1"), opts())).toString(), "echo:1");
  const hang = failure(up.unary("/t.T/Hang", Buffer.alloc(0), opts()));
  await first.link.close(0);
  t.equal((await hang).code, status.UNAVAILABLE, "a call under way when machined goes");
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
    await sleep(20);
  }
  throw new Error("timed out waiting");
}
