// apid's calls to machined: gRPC over plain HTTP/2 on machined's unix
// socket, bytes in and bytes out. machined serves with grpc-js; on this one
// hop apid speaks the wire protocol itself, because a grpc-js client call
// (resolver, load balancer, interceptors, filters) cost ~130 µs of CPU more
// than the HTTP/2 stream it ends up as. Calls to other apids keep grpc-js
// (upstream.ts): they need its TLS and its reconnects.
import http2 from "node:http2";
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { connect } from "node:net";
import { ApiError, Code } from "../grpc/errors.js";
import { grpcTimeout, MessageFrames, messageFrame, statusFromHeaders, statusOfReset } from "../grpc/wire.js";
import type { ForwardOptions, Upstream } from "./upstream.js";

/** What grpc-js's client took by default, kept: a larger answer from machined is refused. */
export const maxAnswerBytes = 4 * 1024 * 1024;

/** An Upstream over one HTTP/2 connection to the unix socket `path`, opened on first use and again after it closes. */
export function createSocketUpstream(path: string, maxBytes = maxAnswerBytes): Upstream {
  let session: ClientHttp2Session | undefined;
  // Every session not yet closed: one that got a GOAWAY still drains its streams (a follow) after new calls moved on.
  const sessions = new Set<ClientHttp2Session>();
  let closed = false;
  const open = (): ClientHttp2Session => {
    if (closed) throw new ApiError(Code.UNAVAILABLE, "apid is closing its connection to machined");
    if (session && !session.closed && !session.destroyed) return session;
    // Node's default session memory (10 MB) counts bytes queued to send: a few large client-stream messages on one lane
    // would pass it and get every call on the lane refused (as grpc-js does, the writes' own backpressure bounds it).
    const s = http2.connect("http://localhost", { createConnection: () => connect(path), settings: { enablePush: false }, maxSessionMemory: Number.MAX_SAFE_INTEGER });
    const forget = () => {
      if (session === s) session = undefined;
    };
    // A failed connection fails its streams too, and they report it to their calls: here it only retires the session.
    s.on("error", forget);
    s.on("goaway", forget);
    s.on("close", () => {
      forget();
      sessions.delete(s);
    });
    sessions.add(s);
    s.unref();
    session = s;
    return s;
  };
  const start = (method: string, o: ForwardOptions) => startCall(open(), method, o, maxBytes);
  return {
    // Each opens its call inside the promise or the iteration, so a closed upstream fails the call rather than throwing.
    unary: async (method, request, o) => unary(start(method, o), request),
    stream: async function* (method, request, o) {
      yield* stream(start(method, o), request);
    },
    clientStream: async (method, requests, o) => clientStream(start(method, o), requests),
    close: () => {
      closed = true;
      for (const s of sessions) s.destroy();
      sessions.clear();
      session = undefined;
    },
  };
}

/** One call under way: its HTTP/2 stream, its answers as they come, and how to end it early. */
interface Call {
  stream: ClientHttp2Stream;
  /** The answer messages; the call's status ends them (a failure is thrown). */
  answers(): AsyncGenerator<Buffer>;
  /** Cancels the call unless it ended, and lets go of its timer and the caller's signal. */
  finish(): void;
}

/** Opens `method`'s stream with the caller's deadline and metadata; the caller's abort or the deadline cancels it. */
function startCall(session: ClientHttp2Session, method: string, o: ForwardOptions, maxBytes: number): Call {
  const headers: OutgoingHttpHeaders = { ...o.metadata, ":method": "POST", ":path": method, "content-type": "application/grpc", te: "trailers" };
  const timeout = grpcTimeout(o.deadline);
  if (timeout) headers["grpc-timeout"] = timeout.header;
  const stream = session.request(headers);
  // A stream can fail after its reader has stopped listening (machined gone while an early-answered upload is still open):
  // the failure is the call's, read from `ended` or the reset code, never an uncaught error.
  stream.on("error", () => {});
  // Why the call was cut short, if it was; made only then (an error's stack costs, and most calls end well).
  let ended: ApiError | undefined;
  let complete = false;
  const cancel = (why: () => ApiError) => {
    if (complete || ended) return;
    ended = why();
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  };
  // A call machined has ended whose sending side is still open (an upload answered early): closed without error.
  const release = () => {
    if (complete && !stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
  const onAbort = () => cancel(() => new ApiError(Code.CANCELLED, "the caller cancelled the call"));
  o.signal.addEventListener("abort", onAbort, { once: true });
  if (o.signal.aborted) onAbort();
  const timer = timeout ? setTimeout(() => cancel(() => new ApiError(Code.DEADLINE_EXCEEDED, `${method}: deadline exceeded`)), timeout.ms) : undefined;
  timer?.unref();
  const finish = () => {
    clearTimeout(timer);
    o.signal.removeEventListener("abort", onAbort);
    cancel(() => new ApiError(Code.CANCELLED, "apid stopped reading the answer"));
    release();
  };
  let head: IncomingHttpHeaders | undefined;
  let trailers: IncomingHttpHeaders | undefined;
  stream.once("response", (h) => (head = h));
  stream.once("trailers", (h) => (trailers = h));
  async function* answers(): AsyncGenerator<Buffer> {
    const frames = new MessageFrames(maxBytes);
    try {
      for await (const chunk of stream) yield* frames.push(chunk as Buffer);
    } catch (err) {
      // A refused message (its size, compression) ends the call here; anything else broke the stream.
      if (err instanceof ApiError) cancel(() => err);
      if (ended) throw ended;
      // The connection failed (machined's socket is missing, machined restarted): its pending streams are cancelled with the cause.
      if (session.destroyed) throw new ApiError(Code.UNAVAILABLE, `machined's socket: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      throw statusOfReset(stream.rstCode, err);
    }
    if (ended) throw ended;
    // machined ended the call: there is nothing left to cancel.
    complete = true;
    const status = statusFromHeaders(trailers ?? head ?? {}, head);
    if (status) throw status;
    frames.end();
  }
  return { stream, answers, finish };
}

/** Writes one message and ends the sending side. */
function sendOne(call: Call, request: Buffer): void {
  const [head, body] = messageFrame(request);
  call.stream.cork();
  call.stream.write(head);
  call.stream.end(body);
  call.stream.uncork();
}

/** The one answer of a call whose sending is done or under way. */
async function oneAnswer(call: Call): Promise<Buffer> {
  let answer: Buffer | undefined;
  for await (const m of call.answers()) {
    if (answer) throw new ApiError(Code.INTERNAL, "machined sent more than one answer to a unary call");
    answer = m;
  }
  if (!answer) throw new ApiError(Code.INTERNAL, "machined ended the call without an answer");
  return answer;
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
    yield* call.answers();
  } finally {
    call.finish();
  }
}

/**
 * A client-streaming call: `requests` is read only as fast as machined takes
 * them (HTTP/2 flow control, end to end); machined's answer, or an early
 * error, ends the sending. A failure of `requests` (the caller cancelled)
 * cancels the call and is what it fails with.
 */
async function clientStream(call: Call, requests: AsyncIterable<Buffer>): Promise<Buffer> {
  let answered = false;
  let senderFailed: { err: unknown } | undefined;
  const answer = oneAnswer(call).finally(() => (answered = true));
  void (async () => {
    for await (const m of requests) {
      if (answered || call.stream.closed) return;
      const [head, body] = messageFrame(m);
      call.stream.write(head);
      if (!call.stream.write(body)) await drainedOrClosed(call.stream);
    }
    if (!answered && !call.stream.closed) call.stream.end();
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

/** Resolves when the stream takes more, or can take no more. */
function drainedOrClosed(s: ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off("drain", done);
      s.off("close", done);
      resolve();
    };
    s.on("drain", done);
    s.on("close", done);
  });
}
