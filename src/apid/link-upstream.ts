// apid's calls to machined: the link (src/grpc/link-frames.ts) on the unix
// socket machined keeps for apid, bytes in and bytes out. Over HTTP/2 this
// hop cost apid and machined together ~0.2 ms and ~200 µs of CPU a call more
// than the same bytes on a plain socket; calls to other apids keep grpc-js
// (upstream.ts), which they need for TLS and reconnects.
import { connect, type Socket } from "node:net";
import { ApiError, Code } from "../grpc/errors.js";
import { creditPayload, FrameReader, FrameWriter, frame, Kind, openPayload, readStatus, timeoutMs } from "../grpc/link-frames.js";
import { Inbox, SendWindow } from "../grpc/link-window.js";
import type { ForwardOptions, Upstream } from "./upstream.js";

/** What grpc-js's client took by default, kept: a larger answer from machined is refused. */
export const maxAnswerBytes = 4 * 1024 * 1024;

/** One connection to machined's socket and the calls on it. */
class Connection {
  readonly sock: Socket;
  readonly calls = new Map<number, Call>();
  readonly #writer: FrameWriter;
  #next = 1;

  constructor(path: string, readonly maxBytes: number) {
    this.sock = connect(path);
    this.sock.unref();
    this.#writer = new FrameWriter(this.sock);
    const reader = new FrameReader();
    this.sock.on("data", (chunk: Buffer) => {
      try {
        for (const f of reader.push(chunk)) this.calls.get(f.id)?.onFrame(f.kind, f.payload);
      } catch (err) {
        this.sock.destroy(err as Error);
      }
    });
    let failed: Error | undefined;
    this.sock.on("error", (err) => (failed ??= err));
    this.sock.once("close", () => {
      const why = new ApiError(Code.UNAVAILABLE, `machined's socket: ${failed ? failed.message : `${path} closed the connection before the call ended`}`, { cause: failed });
      for (const c of this.calls.values()) c.lost(why);
      this.calls.clear();
    });
  }

  get usable(): boolean {
    return !this.sock.destroyed && !this.sock.closed;
  }

  send(parts: Buffer[]): void {
    this.#writer.send(parts);
  }

  start(path: string, o: ForwardOptions): Call {
    // Ids wrap after 2^31 calls; one still held by a long call (a follow) is skipped.
    let id = this.#next;
    while (this.calls.has(id)) id = id >= 0x7fffffff ? 1 : id + 1;
    this.#next = id >= 0x7fffffff ? 1 : id + 1;
    const call = new Call(this, id, path, o);
    // A call under way keeps the process alive, as any request does; an idle connection does not.
    if (this.calls.size === 0) this.sock.ref();
    this.calls.set(id, call);
    call.begin();
    return call;
  }

  forget(id: number): void {
    if (this.calls.delete(id) && this.calls.size === 0) this.sock.unref();
  }
}

/** One call under way. */
class Call {
  readonly inbox: Inbox;
  readonly window = new SendWindow();
  #ended: ApiError | undefined;
  #complete = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = () => this.cancel(() => new ApiError(Code.CANCELLED, "the caller cancelled the call"));

  constructor(
    private readonly conn: Connection,
    readonly id: number,
    readonly path: string,
    private readonly o: ForwardOptions,
  ) {
    this.inbox = new Inbox((bytes) => {
      if (!this.inbox.ended) conn.send(frame(Kind.credit, id, creditPayload(bytes)));
    });
  }

  /** Sends the open frame and starts the deadline; a caller that has already gone cancels the call at once. */
  begin(): void {
    const { o, path } = this;
    const timeout = timeoutMs(o.deadline);
    o.signal.addEventListener("abort", this.#onAbort, { once: true });
    if (timeout) {
      this.#timer = setTimeout(() => this.cancel(() => new ApiError(Code.DEADLINE_EXCEEDED, `${path}: deadline exceeded`)), timeout);
      this.#timer.unref();
    }
    this.conn.send(frame(Kind.open, this.id, openPayload({ path, metadata: o.metadata ?? {}, ...(timeout ? { timeoutMs: timeout } : {}) })));
    if (o.signal.aborted) this.#onAbort();
  }

  get over(): boolean {
    return this.#complete || this.#ended !== undefined;
  }

  onFrame(kind: number, payload: Buffer): void {
    if (kind === Kind.message) {
      if (payload.length > this.conn.maxBytes) {
        this.cancel(() => new ApiError(Code.RESOURCE_EXHAUSTED, `an answer of ${payload.length} bytes is over the ${this.conn.maxBytes}-byte limit`));
      } else if (!this.inbox.push(payload)) throw new Error(`call ${this.id}: machined sent past its window`);
    } else if (kind === Kind.credit) this.window.credit(payload.readUInt32BE(0));
    else if (kind === Kind.status) {
      this.#complete = true;
      this.#release();
      const failed = readStatus(payload);
      this.inbox.end(failed);
    }
  }

  /** Sends one message; resolves once another may go. */
  async sendMessage(m: Buffer): Promise<void> {
    this.window.sent(m.length);
    this.conn.send(frame(Kind.message, this.id, m));
    await this.window.ready();
  }

  endSending(): void {
    if (!this.over) this.conn.send(frame(Kind.end, this.id));
  }

  /** Ends the call early with `why()` (made only then: an error's stack costs, and most calls end well), telling machined, unless it has ended. */
  cancel(why: () => ApiError): void {
    if (this.over) return;
    this.#ended = why();
    this.conn.send(frame(Kind.cancel, this.id));
    this.#release();
    this.inbox.end(this.#ended);
  }

  /** The connection failed under the call. */
  lost(why: ApiError): void {
    if (this.over) return;
    this.#ended = why;
    this.#release();
    this.inbox.end(why);
  }

  /** Cancels the call unless it ended, and lets go of its timer and the caller's signal. */
  finish(): void {
    this.cancel(() => new ApiError(Code.CANCELLED, "apid stopped reading the answer"));
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.o.signal.removeEventListener("abort", this.#onAbort);
    this.window.closed();
    this.conn.forget(this.id);
  }
}

/** An Upstream over one link connection to the unix socket `path`, opened on first use and again after it closes. */
export function createLinkUpstream(path: string, maxBytes = maxAnswerBytes): Upstream {
  let conn: Connection | undefined;
  let closed = false;
  const start = (method: string, o: ForwardOptions): Call => {
    if (closed) throw new ApiError(Code.UNAVAILABLE, "apid is closing its connection to machined");
    if (!conn?.usable) conn = new Connection(path, maxBytes);
    return conn.start(method, o);
  };
  return {
    // Each opens its call inside the promise or the iteration, so a closed upstream fails the call rather than throwing.
    unary: async (method, request, o) => unary(start(method, o), request),
    stream: async function* (method, request, o) {
      yield* stream(start(method, o), request);
    },
    clientStream: async (method, requests, o) => clientStream(start(method, o), requests),
    close: () => {
      closed = true;
      conn?.sock.destroy();
      conn = undefined;
    },
  };
}

/** The one answer of a call whose sending is done or under way. */
async function oneAnswer(call: Call): Promise<Buffer> {
  const [answer, more] = await call.inbox.all();
  if (more) throw new ApiError(Code.INTERNAL, "machined sent more than one answer to a call that has one");
  if (!answer) throw new ApiError(Code.INTERNAL, "machined ended the call without an answer");
  return answer;
}

function sendOne(call: Call, request: Buffer): void {
  void call.sendMessage(request);
  call.endSending();
}

async function unary(call: Call, request: Buffer): Promise<Buffer> {
  try {
    sendOne(call, request);
    return await oneAnswer(call);
  } finally {
    call.finish();
  }
}

async function* stream(call: Call, request: Buffer): AsyncIterable<Buffer> {
  try {
    sendOne(call, request);
    yield* call.inbox.read();
  } finally {
    call.finish();
  }
}

/**
 * A client-streaming call: `requests` is read only as fast as machined takes
 * them (the link's per-call window); machined's answer, or an early error,
 * ends the sending. A failure of `requests` (the caller cancelled) cancels
 * the call and is what it fails with.
 */
async function clientStream(call: Call, requests: AsyncIterable<Buffer>): Promise<Buffer> {
  let senderFailed: { err: unknown } | undefined;
  const answer = oneAnswer(call);
  void (async () => {
    for await (const m of requests) {
      if (call.over) return;
      await call.sendMessage(m);
    }
    call.endSending();
  })().catch((err: unknown) => {
    senderFailed = { err };
    call.finish();
  });
  try {
    return await answer;
  } catch (err) {
    // The caller's failure comes first: it is why the call ended.
    throw senderFailed ? senderFailed.err : err;
  } finally {
    call.finish();
  }
}
