// Typed handlers for a protobuf-es service, adapted to grpc-js's callback API.
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type {
  Metadata,
  MetadataValue,
  sendUnaryData,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { cancelSignal, type ErrorMapper, pump, toStatus } from "./call-io.js";
import { grpcDefinition } from "./service.js";

/** What a handler reads of its call's metadata. */
export interface MetadataReader {
  get(key: string): MetadataValue[];
}

/** What a handler learns about its call besides the request. */
export interface CallContext {
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** Request metadata (headers): every value of a key, as grpc-js's Metadata gives them. */
  metadata: MetadataReader;
  /** Peer address as grpc-js reports it. */
  peer: string;
}

type Init<M extends DescMessage> = MessageInitShape<M>;
type Shape<M extends DescMessage> = MessageShape<M>;

/** A typed implementation: unary methods return a response, server streams yield them, client streams read their requests and return a response. */
export type ServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]: S[K] extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: Shape<I>, ctx: CallContext) => Promise<Init<O>>
    : S[K] extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (req: Shape<I>, ctx: CallContext) => AsyncIterable<Init<O>>
      : S[K] extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<Shape<I>>, ctx: CallContext) => Promise<Init<O>>
        : never;
};

export interface ImplementationOptions {
  /** Turns a handler's error into the status sent, on unary calls and streams alike; default ApiError.from. */
  toApiError?: ErrorMapper;
}

/** Adapts a typed implementation to what grpc-js `server.addService` takes. */
export function grpcImplementation<S extends GenServiceMethods>(
  service: GenService<S>,
  impl: ServiceImpl<S>,
  opts: ImplementationOptions = {},
): { definition: ReturnType<typeof grpcDefinition>; implementation: UntypedServiceImplementation } {
  const implementation: UntypedServiceImplementation = {};
  for (const m of service.methods) {
    const fn = (impl as Record<string, unknown>)[m.localName] as (req: unknown, ctx: CallContext) => unknown;
    if (m.methodKind === "unary") implementation[m.localName] = unaryHandler(m.output, fn, opts.toApiError);
    else if (m.methodKind === "server_streaming") implementation[m.localName] = streamHandler(m.output, fn, opts.toApiError);
    else if (m.methodKind === "client_streaming") implementation[m.localName] = clientStreamHandler(m.output, fn, opts.toApiError);
  }
  return { definition: grpcDefinition(service), implementation };
}

type AnyServerCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerReadableStream<unknown, unknown>;

/**
 * Context for a call. Its AbortSignal, tied to the call's cancellation, and
 * its peer are made when first read: most unary handlers read neither, and
 * a signal made for every call cost machined ~7 % of its busy time under a
 * load of ServiceList calls (grpc-js ends every call with "cancelled"). A
 * class, so the getters live on a prototype rather than on each context.
 */
class LazyCallContext implements CallContext {
  #signal: AbortSignal | undefined;
  constructor(private readonly call: AnyServerCall) {}
  get signal(): AbortSignal {
    this.#signal ??= cancelSignal(this.call);
    return this.#signal;
  }
  get metadata(): Metadata {
    return this.call.metadata;
  }
  get peer(): string {
    return this.call.getPeer();
  }
}

/** Wraps a promise-returning handler; thrown errors become gRPC statuses. */
function unaryHandler(output: DescMessage, fn: (req: unknown, ctx: CallContext) => unknown, toApiError?: ErrorMapper) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    Promise.resolve()
      .then(() => fn(call.request, new LazyCallContext(call)))
      .then(
        (res) => callback(null, create(output, res as Init<DescMessage>)),
        (err: unknown) => callback(toStatus(err, toApiError)),
      );
  };
}

/** Wraps an async-iterable handler, honouring backpressure and cancellation. */
function streamHandler(output: DescMessage, fn: (req: unknown, ctx: CallContext) => unknown, toApiError?: ErrorMapper) {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const ctx = new LazyCallContext(call);
    const source = async function* () {
      for await (const msg of fn(call.request, ctx) as AsyncIterable<Init<DescMessage>>) yield create(output, msg);
    };
    void pump(call, ctx.signal, source, toApiError);
  };
}

/**
 * Wraps a handler reading a client stream: it gets the requests as an async
 * iterable (read as it asks for them, so grpc flow control holds the client
 * back while it works) and its answer or error ends the call.
 */
function clientStreamHandler(output: DescMessage, fn: (reqs: unknown, ctx: CallContext) => unknown, toApiError?: ErrorMapper) {
  return (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const ctx = new LazyCallContext(call);
    // A cancelled call ends the handler's reading with the cancel, rather than leaving it waiting for a message.
    // The handler's reading sees the error; with no reading under way (the handler is importing, say) nothing else must.
    call.on("error", () => {});
    ctx.signal.addEventListener("abort", () => call.destroy(ctx.signal.reason as Error), { once: true });
    Promise.resolve()
      .then(() => fn(call as AsyncIterable<unknown>, ctx))
      .then(
        (res) => callback(null, create(output, res as Init<DescMessage>)),
        (err: unknown) => callback(toStatus(err, toApiError)),
      );
  };
}
