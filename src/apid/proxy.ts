// MachineService as apid serves it: every call is admitted first
// (admission.ts), then forwarded as bytes to machined, or fanned out to the
// nodes the caller named. Only answers that must be redacted are decoded.
import type { DescService } from "@bufbuild/protobuf";
import type { sendUnaryData, ServerReadableStream, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { ApplyConfigurationRequestSchema, MachineService } from "../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../grpc/errors.js";
import { apidModeHeader } from "../machinery/apid.js";
import { admit, type Mode } from "./admission.js";
import type { DeniedCertificates } from "./denied-certificates.js";
import { methodPath } from "./authorization.js";
import { cancelSignal, pump, toStatus } from "../grpc/call-io.js";
import { checkFanOut, fanOutStream, fanOutUnary, forwardClientStream, nodesOf, type Remotes } from "./fan-out.js";
import type { Caller } from "./identity.js";
import { redactions } from "./redact.js";
import type { StreamLimits } from "./stream-limits.js";
import { roleHeader } from "./roles.js";
import type { Lanes } from "./lanes.js";
import { type ForwardOptions, rawBytes } from "./upstream.js";

/** What the proxy forwards with. */
export interface ProxyContext {
  mode: Mode;
  /** Maintenance mode only: set once a config was applied through it; every later call is refused. */
  configured?: boolean;
  /** machined's socket for apid, a connection per role. */
  machined: Lanes;
  /** Other machines' apids, for fan-out. */
  remotes: Remotes;
  /** Client certificates refused on every call (machine.api.deniedCertificates). */
  denied?: DeniedCertificates;
  /** How many streams may be open at once, per connection and per role. */
  streams: StreamLimits;
}

type UnaryCall = ServerUnaryCall<Buffer, Buffer>;
type StreamCall = ServerWritableStream<Buffer, Buffer>;
type ClientStreamCall = ServerReadableStream<Buffer, Buffer>;
type AnyCall = UnaryCall | StreamCall | ClientStreamCall;

/** A grpc-js definition of `service` whose requests and responses stay bytes. */
export function rawDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const m of service.methods) {
    const path = methodPath(service, m.name);
    const responseStream = m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming";
    const requestStream = m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming";
    const codec = { requestSerialize: rawBytes, requestDeserialize: rawBytes, responseSerialize: rawBytes, responseDeserialize: rawBytes };
    def[m.localName] = { path, requestStream, responseStream, originalName: m.localName, ...codec };
  }
  return def;
}

/** MachineService handlers forwarding every RPC. */
export function machineProxy(ctx: ProxyContext): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const implementation: UntypedServiceImplementation = {};
  ctx = { ...ctx };
  for (const m of MachineService.methods) {
    const path = methodPath(MachineService, m.name);
    if (m.methodKind === "bidi_streaming") throw new Error(`apid: ${path} is a bidirectional stream, which apid does not forward`);
    const handlers = { unary: unaryHandler, server_streaming: streamHandler, client_streaming: clientStreamHandler };
    implementation[m.localName] = handlers[m.methodKind](ctx, path);
  }
  return { definition: rawDefinition(MachineService), implementation };
}

/** A unary RPC: admit, forward, filter. */
function unaryHandler(ctx: ProxyContext, path: string) {
  return (call: UnaryCall, callback: sendUnaryData<Buffer>) => {
    const signal = cancelSignal(call);
    answerUnary(ctx, path, call, signal).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toStatus(err)),
    );
  };
}

/** The answer to a unary call, from machined or from every named node. */
async function answerUnary(ctx: ProxyContext, path: string, call: UnaryCall, signal: AbortSignal): Promise<Buffer> {
  const caller = admitHere(ctx, call, path);
  const nodes = fanOutNodes(ctx, call, caller);
  const o = forwardOptions(ctx.mode, caller, call, signal, nodes !== undefined);
  const res = nodes ? await fanOutUnary(ctx.remotes, nodes, path, call.request, o) : await ctx.machined.of(caller?.role ?? "apid").unary(path, call.request, o);
  if (ctx.mode === "maintenance" && path === applyPath && !isDryRun(call.request)) ctx.configured = true;
  return filterFor(caller, path)(res);
}

/** A server-streaming RPC: admit, forward, filter each message. */
function streamHandler(ctx: ProxyContext, path: string) {
  return (call: StreamCall) => {
    const signal = cancelSignal(call);
    void pump(call, signal, () => answerStream(ctx, path, call, signal));
  };
}

/** The messages of a streaming call, from machined or interleaved from every named node. */
async function* answerStream(ctx: ProxyContext, path: string, call: StreamCall, signal: AbortSignal): AsyncIterable<Buffer> {
  const caller = admitHere(ctx, call, path);
  const nodes = fanOutNodes(ctx, call, caller);
  const release = ctx.streams.open(call.getPeer(), caller);
  try {
    yield* forwardStream(ctx, path, call, signal, caller, nodes);
  } finally {
    release();
  }
}

/** The forwarded messages of one admitted stream, each filtered for the caller. */
async function* forwardStream(ctx: ProxyContext, path: string, call: StreamCall, signal: AbortSignal, caller: Caller | undefined, nodes: string[] | undefined) {
  const o = forwardOptions(ctx.mode, caller, call, signal, nodes !== undefined);
  const source = nodes ? fanOutStream(ctx.remotes, nodes, path, call.request, o) : ctx.machined.of(caller?.role ?? "apid").stream(path, call.request, o);
  const filter = filterFor(caller, path);
  for await (const m of source) yield filter(m);
}

/** A client-streaming RPC: admit, forward the caller's messages as machined takes them, filter the answer. */
function clientStreamHandler(ctx: ProxyContext, path: string) {
  return (call: ClientStreamCall, callback: sendUnaryData<Buffer>) => {
    const signal = cancelSignal(call);
    // A cancelled call stops the reading of its messages at once: the forwarding loop sees the
    // error; when it is not reading, the no-op listener keeps an unhandled 'error' from ending apid.
    call.on("error", () => {});
    signal.addEventListener("abort", () => call.destroy(signal.reason as Error), { once: true });
    answerClientStream(ctx, path, call, signal).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toStatus(err)),
    );
  };
}

/** The answer to a client stream, from machined or the one named node; it holds a stream slot while it runs. */
async function answerClientStream(ctx: ProxyContext, path: string, call: ClientStreamCall, signal: AbortSignal): Promise<Buffer> {
  const caller = admitHere(ctx, call, path);
  const nodes = fanOutNodes(ctx, call, caller);
  const release = ctx.streams.open(call.getPeer(), caller);
  try {
    const o = forwardOptions(ctx.mode, caller, call, signal, nodes !== undefined);
    const requests = call as AsyncIterable<Buffer>;
    const res = nodes ? await forwardClientStream(ctx.remotes, nodes, path, requests, o) : await ctx.machined.of(caller?.role ?? "apid").clientStream(path, requests, o);
    return filterFor(caller, path)(res);
  } finally {
    release();
  }
}

const applyPath = methodPath(MachineService, "ApplyConfiguration");

/** Admission, and in maintenance mode nothing more once a config was applied (before apid restarts with mTLS). */
function admitHere(ctx: ProxyContext, call: AnyCall, path: string): Caller | undefined {
  if (ctx.configured) throw new ApiError(Code.FAILED_PRECONDITION, "the machine is configured: maintenance mode has ended; connect with mTLS (a kilnconfig signed by the machine CA)");
  return admit(ctx.mode, call, path, ctx.denied);
}

/** Whether an ApplyConfigurationRequest (bytes) is a dry run; one that cannot be read is not. */
function isDryRun(request: Buffer): boolean {
  try {
    return fromBinary(ApplyConfigurationRequestSchema, request).dryRun;
  } catch {
    return false;
  }
}

/** The nodes to fan out to, or undefined to answer here (maintenance, an impersonated call, no `nodes`). */
function fanOutNodes(ctx: ProxyContext, call: AnyCall, caller: Caller | undefined): string[] | undefined {
  if (ctx.mode === "maintenance" || !caller || caller.impersonated) return undefined;
  const nodes = nodesOf(call.metadata);
  checkFanOut(nodes, ctx.remotes.peers);
  return nodes.length > 0 ? nodes : undefined;
}

/**
 * The caller's deadline and cancel; toward machined, the mode the call came
 * through (set here, never copied from the caller); toward other apids, the role acted for.
 */
function forwardOptions(mode: Mode, caller: Caller | undefined, call: AnyCall, signal: AbortSignal, remote: boolean): ForwardOptions {
  const metadata: Record<string, string> = remote ? (caller ? { [roleHeader]: caller.role } : {}) : { [apidModeHeader]: mode };
  return { deadline: call.getDeadline(), signal, metadata };
}

/** The response filter for a caller: none for admins (and maintenance), else the RPC's redaction. */
function filterFor(caller: Caller | undefined, path: string): (b: Buffer) => Buffer {
  if (!caller || caller.role === "os:admin") return (b) => b;
  return redactions.get(path) ?? ((b) => b);
}
