// Raw gRPC calls, bytes in and bytes out: what an Upstream is, and one over
// grpc-js, for other apids (machined's is socket-upstream.ts, in lanes.ts).
// Nothing is decoded on the way. Each call carries the caller's deadline and
// is cancelled when the caller's signal aborts.
import { type ChannelCredentials, type ChannelOptions, Client, type Deadline, Metadata } from "@grpc/grpc-js";

/** How one forwarded call runs. */
export interface ForwardOptions {
  deadline: Deadline;
  signal: AbortSignal;
  /** Request metadata to send (nothing of the caller's is passed on unless named here). */
  metadata?: Record<string, string>;
}

/** A server apid forwards to. Errors carry a gRPC code: grpc-js ServiceErrors (code, details) or ApiErrors. */
export interface Upstream {
  unary(path: string, request: Buffer, o: ForwardOptions): Promise<Buffer>;
  stream(path: string, request: Buffer, o: ForwardOptions): AsyncIterable<Buffer>;
  /** A client-streaming call: every message of `requests` sent as the server takes them, then its one answer. */
  clientStream(path: string, requests: AsyncIterable<Buffer>, o: ForwardOptions): Promise<Buffer>;
  close(): void;
}

/** Serializer and deserializer both: the bytes as they are. */
export const rawBytes = (b: Buffer): Buffer => b;

/** An Upstream over one grpc-js channel to `target`. */
export function createUpstream(target: string, credentials: ChannelCredentials, options: ChannelOptions = {}): Upstream {
  const client = new Client(target, credentials, options);
  return {
    unary: (path, request, o) => unary(client, path, request, o),
    stream: (path, request, o) => stream(client, path, request, o),
    clientStream: (path, requests, o) => clientStream(client, path, requests, o),
    close: () => client.close(),
  };
}

/** grpc-js Metadata from plain pairs. */
function metadataOf(pairs: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(pairs)) md.set(k, v);
  return md;
}

/** One unary call; the caller's abort cancels it. */
function unary(client: Client, path: string, request: Buffer, o: ForwardOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cancel = () => call.cancel();
    const call = client.makeUnaryRequest(path, rawBytes, rawBytes, request, metadataOf(o.metadata), { deadline: o.deadline }, (err, res) => {
      o.signal.removeEventListener("abort", cancel);
      if (res && !err) resolve(res);
      else reject(err ?? new Error(`${path}: no response`));
    });
    o.signal.addEventListener("abort", cancel, { once: true });
  });
}

/** One server-streaming call as an async iterable; it ends early (cancelled) when the consumer stops or the signal aborts. */
async function* stream(client: Client, path: string, request: Buffer, o: ForwardOptions): AsyncIterable<Buffer> {
  const call = client.makeServerStreamRequest(path, rawBytes, rawBytes, request, metadataOf(o.metadata), { deadline: o.deadline });
  const cancel = () => call.cancel();
  o.signal.addEventListener("abort", cancel, { once: true });
  try {
    for await (const chunk of call) yield chunk as Buffer;
  } finally {
    o.signal.removeEventListener("abort", cancel);
    call.cancel();
  }
}

/**
 * One client-streaming call: `requests` is read only as fast as the server
 * takes its messages (gRPC flow control, end to end); the server's answer,
 * or an early error, ends the sending. The caller's abort cancels it.
 */
function clientStream(client: Client, path: string, requests: AsyncIterable<Buffer>, o: ForwardOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let wake = () => {};
    const cancel = () => call.cancel();
    const call = client.makeClientStreamRequest(path, rawBytes, rawBytes, metadataOf(o.metadata), { deadline: o.deadline }, (err, res) => {
      settled = true;
      wake();
      o.signal.removeEventListener("abort", cancel);
      if (res && !err) resolve(res);
      else reject(err ?? new Error(`${path}: no response`));
    });
    o.signal.addEventListener("abort", cancel, { once: true });
    // Waits for the call to take more, or to end.
    const drained = () =>
      new Promise<void>((r) => {
        wake = r;
        call.once("drain", r);
      });
    void (async () => {
      try {
        for await (const m of requests) {
          if (settled) return;
          if (!call.write(m)) await drained();
        }
        if (!settled) call.end();
      } catch (err) {
        // The caller's stream failed (it cancelled): so does the forwarded call.
        call.cancel();
        reject(err);
      }
    })();
  });
}
