// A typed, promise-based client over grpc-js for a protobuf-es service.
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client as GrpcClient,
  type ClientReadableStream,
  type ClientWritableStream,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { ApiError } from "./errors.js";
import { grpcDefinition } from "./service.js";

/** Per-call options. */
export interface CallOpts {
  /** Milliseconds until the call fails with DEADLINE_EXCEEDED. */
  timeoutMs?: number;
  signal?: AbortSignal;
  metadata?: Record<string, string>;
}

type Init<M extends DescMessage> = MessageInitShape<M>;
type Shape<M extends DescMessage> = MessageShape<M>;

export type Client<S extends GenServiceMethods> = {
  [K in keyof S]: S[K] extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: Init<I>, opts?: CallOpts) => Promise<Shape<O>>
    : S[K] extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (req: Init<I>, opts?: CallOpts) => AsyncIterable<Shape<O>>
      : S[K] extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<Init<I>>, opts?: CallOpts) => Promise<Shape<O>>
        : never;
} & { close(): void; grpc: GrpcClient };

/** Creates a typed client for `service` at `target` (e.g. "unix:///run/x.sock"). */
export function createClient<S extends GenServiceMethods>(
  service: GenService<S>,
  target: string,
  credentials: ChannelCredentials,
  options: ChannelOptions = {},
): Client<S> {
  const Ctor = makeGenericClientConstructor(grpcDefinition(service), service.typeName);
  const raw = new Ctor(target, credentials, options) as unknown as Record<string, (...args: unknown[]) => unknown> & GrpcClient;
  const out: Record<string, unknown> = { close: () => raw.close(), grpc: raw };
  for (const m of service.methods) {
    const call = raw[m.localName]!.bind(raw);
    if (m.methodKind === "unary") out[m.localName] = unary(m.input, call);
    else if (m.methodKind === "server_streaming") out[m.localName] = stream(m.input, call);
    else if (m.methodKind === "client_streaming") out[m.localName] = clientStream(m.input, call);
  }
  return out as Client<S>;
}

/** Metadata and grpc-js call options from our CallOpts. */
function callArgs(opts: CallOpts | undefined): [Metadata, CallOptions] {
  const md = new Metadata();
  for (const [k, v] of Object.entries(opts?.metadata ?? {})) md.set(k, v);
  const co: CallOptions = {};
  if (opts?.timeoutMs !== undefined) co.deadline = Date.now() + opts.timeoutMs;
  return [md, co];
}

/** A unary method as a promise; errors become ApiError. */
function unary(input: DescMessage, call: (...args: unknown[]) => unknown) {
  return (req: Init<DescMessage>, opts?: CallOpts) =>
    new Promise((resolve, reject) => {
      const [md, co] = callArgs(opts);
      const signal = opts?.signal;
      const onAbort = () => c.cancel();
      const c = call(create(input, req), md, co, (err: ServiceError | null, res: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(ApiError.from(err));
        else resolve(res);
      }) as { cancel(): void };
      // A signal already aborted cancels at once; a listener is removed when the call ends, so callers may reuse a signal.
      if (signal?.aborted) c.cancel();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
}

/** A server-streaming method as an async iterable; breaking out cancels the call. */
function stream(input: DescMessage, call: (...args: unknown[]) => unknown) {
  return (req: Init<DescMessage>, opts?: CallOpts) => ({
    async *[Symbol.asyncIterator]() {
      const [md, co] = callArgs(opts);
      const s = call(create(input, req), md, co) as ClientReadableStream<unknown>;
      const onAbort = () => s.cancel();
      opts?.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const msg of s) yield msg;
      } catch (err) {
        throw ApiError.from(err);
      } finally {
        opts?.signal?.removeEventListener("abort", onAbort);
        s.cancel();
      }
    },
  });
}

/**
 * A client-streaming method: sends each message of `reqs` as the server takes
 * them (grpc flow control: a slow machine slows the reading of `reqs`), then
 * resolves with the answer. An error from the server, or the abort, stops
 * the sending; an error from `reqs` cancels the call.
 */
function clientStream(input: DescMessage, call: (...args: unknown[]) => unknown) {
  return (reqs: AsyncIterable<Init<DescMessage>>, opts?: CallOpts) =>
    new Promise((resolve, reject) => {
      const [md, co] = callArgs(opts);
      let settled = false;
      let wake = () => {};
      const c = call(md, co, (err: ServiceError | null, res: unknown) => {
        settled = true;
        wake();
        if (err) reject(ApiError.from(err));
        else resolve(res);
      }) as ClientWritableStream<unknown>;
      c.on("error", () => {}); // the callback has it
      opts?.signal?.addEventListener("abort", () => c.cancel(), { once: true });
      const drained = () =>
        new Promise<void>((r) => {
          wake = r;
          c.once("drain", r);
        });
      void (async () => {
        try {
          for await (const req of reqs) {
            if (settled) return;
            if (!c.write(create(input, req))) await drained();
          }
          if (!settled) c.end();
        } catch (err) {
          c.cancel();
          settled = true;
          reject(err);
        }
      })();
    });
}
