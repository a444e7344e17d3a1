// The server end of the link (link-frames.ts): calls arrive as frames on a
// unix socket, each is routed by its path to a handler taking and giving
// bytes, and ends with one status frame. A caller's cancel, a deadline or
// the connection's loss aborts the handler's signal.
import { createServer, type Server, type Socket } from "node:net";
import { ApiError, Code } from "./errors.js";
import { creditPayload, type Frame, FrameReader, FrameWriter, frame, Kind, maxTimeoutMs, readOpen, statusPayload } from "./link-frames.js";
import { Inbox, SendWindow } from "./link-window.js";

/** A call as its handler sees it. */
export interface LinkCall {
  path: string;
  metadata: Record<string, string>;
  /** When the caller's deadline passes (ms since the epoch); Infinity for none. */
  deadline: number;
  /** Aborted when the caller cancels, the deadline passes or the connection is lost; made on first read. */
  readonly signal: AbortSignal;
}

/** A method: one request in and one answer out, one request and a stream of answers, or a stream of requests and one answer. */
export type LinkHandler =
  | { kind: "unary"; run(request: Buffer, call: LinkCall): Promise<Uint8Array> }
  | { kind: "server_streaming"; run(request: Buffer, call: LinkCall): AsyncIterable<Uint8Array> }
  | { kind: "client_streaming"; run(requests: AsyncIterable<Buffer>, call: LinkCall): Promise<Uint8Array> };

export interface LinkServerOptions {
  route(path: string): LinkHandler | undefined;
  /** The status a handler's error ends its call with. */
  toStatus(err: unknown): { code: number; details: string };
  /** The largest request message taken; a larger one ends its call with RESOURCE_EXHAUSTED (grpc-js's default, 4 MiB). */
  maxRequestBytes?: number;
  /** Calls one connection may have running at once; more wait, in order, for one to end (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS, as a client queues for it). Default: no limit. */
  maxCallsPerConnection?: number;
  /** Called as each call arrives, before its handler (tests see which calls came). */
  onCall?(path: string): void;
}

export interface LinkServer {
  server: Server;
  /** Stops taking connections; calls under way get `graceMs`, then their connections are closed and their signals abort. */
  close(graceMs: number): Promise<void>;
}

// The reasons a call's signal aborts with: one error each, not a stack per call.
const cancelledByCaller = new ApiError(Code.CANCELLED, "cancelled by the client");
const callEnded = new ApiError(Code.CANCELLED, "the call has ended");
const deadlineExceeded = new ApiError(Code.DEADLINE_EXCEEDED, "deadline exceeded");

/** A link server, not yet listening. */
export function createLinkServer(o: LinkServerOptions): LinkServer {
  const sockets = new Set<Socket>();
  const open = new Set<() => number>();
  const server = createServer((sock) => {
    sockets.add(sock);
    const calls = serveConnection(sock, o);
    open.add(calls);
    sock.once("close", () => {
      sockets.delete(sock);
      open.delete(calls);
    });
  });
  const busy = () => [...open].some((n) => n() > 0);
  const close = async (graceMs: number) => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const until = Date.now() + graceMs;
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { server, close };
}

/** One server-side call. */
class ServerCall implements LinkCall {
  #ac: AbortController | undefined;
  #why: Error | undefined;
  done = false;
  readonly inbox: Inbox;
  readonly window = new SendWindow();
  timer: NodeJS.Timeout | undefined;
  /** Gives up the call's running slot on its connection, once it has one. */
  release: (() => void) | undefined;
  deadline = Number.POSITIVE_INFINITY;

  constructor(
    readonly id: number,
    readonly path: string,
    readonly metadata: Record<string, string>,
    credit: (id: number, bytes: number) => void,
  ) {
    this.inbox = new Inbox((bytes) => {
      if (!this.inbox.ended && !this.done) credit(id, bytes);
    });
  }

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#why) this.#ac.abort(this.#why);
    }
    return this.#ac.signal;
  }

  /** The call is over for the caller: its handler's signal aborts with `why`. */
  abort(why: Error): void {
    this.#why ??= why;
    this.#ac?.abort(this.#why);
    this.inbox.end(why);
    this.window.closed();
  }
}

/** Serves one connection; returns how many calls it has under way. */
function serveConnection(sock: Socket, o: LinkServerOptions): () => number {
  const calls = new Map<number, ServerCall>();
  const reader = new FrameReader();
  const maxRunning = o.maxCallsPerConnection ?? Number.POSITIVE_INFINITY;
  let running = 0;
  const waiting: (() => void)[] = [];
  const maxRequest = o.maxRequestBytes ?? 4 * 1024 * 1024;
  const writer = new FrameWriter(sock);
  const send = (parts: Buffer[]) => writer.send(parts);
  /** Ends a call once: with a status for the caller unless it went away, its handler's signal aborted with `why`, its slot given up. */
  const retire = (call: ServerCall, why: Error, status?: { code: number; details: string }) => {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.timer);
    calls.delete(call.id);
    if (status) send(frame(Kind.status, call.id, statusPayload(status.code, status.details)));
    call.abort(why);
    call.release?.();
  };
  const finish = (call: ServerCall, code: number, details: string) => retire(call, callEnded, { code, details });
  const fail = (call: ServerCall, err: unknown) => {
    const s = o.toStatus(err);
    finish(call, s.code, s.details);
  };
  const credit = (id: number, bytes: number) => send(frame(Kind.credit, id, creditPayload(bytes)));

  const start = (f: Frame) => {
    if (calls.has(f.id)) throw new Error(`call ${f.id} opened twice`);
    let open: ReturnType<typeof readOpen>;
    try {
      open = readOpen(f.payload);
    } catch (err) {
      send(frame(Kind.status, f.id, statusPayload(Code.INTERNAL, (err as Error).message)));
      return;
    }
    const handler = o.route(open.path);
    if (!handler) {
      send(frame(Kind.status, f.id, statusPayload(Code.UNIMPLEMENTED, `the server does not implement ${open.path}`)));
      return;
    }
    const call = new ServerCall(f.id, open.path, open.metadata, credit);
    calls.set(f.id, call);
    o.onCall?.(open.path);
    if (open.timeoutMs !== undefined) {
      const ms = Math.min(maxTimeoutMs, Math.max(0, open.timeoutMs));
      call.deadline = Date.now() + ms;
      call.timer = setTimeout(() => retire(call, deadlineExceeded, { code: Code.DEADLINE_EXCEEDED, details: "deadline exceeded" }), ms);
      call.timer.unref();
    }
    const go = () => {
      if (call.done) return next();
      // The slot is the call's until it ends for its caller, whether or not its handler has stopped (as an HTTP/2 stream's is).
      running++;
      call.release = () => {
        running--;
        next();
      };
      void run(call, handler).then(
        (answer) => {
          if (answer && !call.done) send(frame(Kind.message, call.id, answer));
          finish(call, Code.OK, "");
        },
        (err: unknown) => fail(call, err),
      );
    };
    if (running < maxRunning) go();
    else waiting.push(go);
  };
  const next = () => {
    if (running < maxRunning) waiting.shift()?.();
  };

  /** Runs the handler; a unary or client-streaming call's answer is returned to be sent. */
  const run = async (call: ServerCall, h: LinkHandler): Promise<Uint8Array | undefined> => {
    if (h.kind === "client_streaming") return h.run(call.inbox.read(), call);
    const request = await oneRequest(call.inbox);
    if (h.kind === "unary") return h.run(request, call);
    for await (const m of h.run(request, call)) {
      if (call.done) break;
      const wait = call.window.ready();
      if (wait) await wait;
      if (call.done) break;
      call.window.sent(m.length);
      send(frame(Kind.message, call.id, m));
    }
    return undefined;
  };

  const dispatch = (f: Frame) => {
    if (f.kind === Kind.open) return start(f);
    if (f.kind < Kind.message || f.kind > Kind.credit || f.kind === Kind.status) throw new Error(`a link frame of kind ${f.kind} from a client`);
    const call = calls.get(f.id);
    // Frames for a call that has ended (its caller had not heard yet) are dropped.
    if (!call) return;
    if (f.kind === Kind.message) {
      if (f.payload.length > maxRequest) fail(call, new ApiError(Code.RESOURCE_EXHAUSTED, `a request of ${f.payload.length} bytes is over the ${maxRequest}-byte limit`));
      else if (!call.inbox.push(f.payload)) throw new Error(`call ${f.id}: the client sent past its window`);
    } else if (f.kind === Kind.end) call.inbox.end();
    else if (f.kind === Kind.credit) call.window.credit(f.payload.readUInt32BE(0));
    else retire(call, cancelledByCaller);
  };

  sock.on("data", (chunk: Buffer) => {
    try {
      for (const f of reader.push(chunk)) dispatch(f);
    } catch {
      // A peer that breaks the framing cannot be answered: its connection goes, and its calls with it.
      sock.destroy();
    }
  });
  sock.on("error", () => {});
  sock.once("close", () => {
    const lost = new ApiError(Code.CANCELLED, "the caller's connection closed");
    waiting.length = 0;
    for (const call of [...calls.values()]) retire(call, lost);
  });
  return () => calls.size;
}

/** The one request of a unary or server-streaming call. */
async function oneRequest(inbox: Inbox): Promise<Buffer> {
  const [request, more] = await inbox.all();
  if (more) throw new ApiError(Code.INTERNAL, "more than one request message on a call that takes one");
  if (!request) throw new ApiError(Code.INTERNAL, "the call ended without its request message");
  return request;
}
