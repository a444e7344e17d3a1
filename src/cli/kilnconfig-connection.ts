// From flags, environment and kilnconfig to a connection: which endpoint,
// which nodes, which credentials. A unix socket is machined's trusted local
// API (no TLS); apid over TCP is mTLS with the context's CA and client
// certificate, or with --insecure TLS to a machine in maintenance mode.
// TCP endpoints are tried in order; the first whose TLS handshake succeeds
// is used, so every failure names its endpoint and its reason.
import { X509Certificate } from "node:crypto";
import { type ChannelCredentials, type ChannelOptions, credentials, InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { ApiError, Code } from "../grpc/errors.js";
import { decodeBase64Pem } from "../pki/pem.js";
import { type ClientTls, grpcCredentials, probeServer, type ServerTrust } from "../pki/tls-client.js";
import { formatDuration } from "./duration.js";
import { checkSocket, type Endpoint, parseEndpoints } from "./endpoint.js";
import { CliError, describeError, usageError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import type { Globals } from "./global-options.js";
import type { KilnContext } from "../config/kilnconfig.js";
import { locateKilnconfig, readKilnconfig, selectContext } from "./kilnconfig-file.js";

export interface Connection {
  /** The endpoint as messages name it: "10.0.0.2:50000" or "unix:///path". */
  endpoint: string;
  /** What grpc-js dials. */
  target: string;
  credentials: ChannelCredentials;
  /** Channel options, with the interceptor that sends the target nodes. */
  options: ChannelOptions;
  /** Target nodes, sent as the `nodes` metadata when not empty. */
  nodes: string[];
}

/** Settled from flags and kilnconfig before dialling. */
interface Plan {
  endpoints: Endpoint[];
  nodes: string[];
  /** How TCP endpoints are trusted and what the client presents. */
  tls: Omit<ClientTls, "host"> | undefined;
}

/** Longest wait for one endpoint's TLS handshake. */
const probeLimitMs = 10_000;

/** The connection the globals ask for; TCP endpoints are probed first. */
export async function openConnection(g: Globals, env: Record<string, string | undefined>): Promise<Connection> {
  const plan = await planConnection(g, env);
  const first = plan.endpoints[0]!;
  const options = nodesOptions(plan.nodes);
  if (first.t === "unix" || !plan.tls) {
    await checkSocket(first.target);
    return { endpoint: first.text, target: first.target, credentials: credentials.createInsecure(), options, nodes: plan.nodes };
  }
  const probeMs = g.timeoutMs > 0 ? Math.min(g.timeoutMs, probeLimitMs) : probeLimitMs;
  const { endpoint, tls, peer } = await firstReachable(plan.endpoints, plan.tls, probeMs);
  const grpc = grpcCredentials(tls, peer);
  return { endpoint: endpoint.text, target: endpoint.target, credentials: grpc.credentials, options: { ...grpc.options, ...options }, nodes: plan.nodes };
}

/** Endpoints, nodes and TLS from the flags, loading the kilnconfig only when they leave something open. */
async function planConnection(g: Globals, env: Record<string, string | undefined>): Promise<Plan> {
  const flagged = g.endpoints;
  const needsContext = flagged === undefined || (flagged[0]!.t === "tcp" && !g.insecure);
  const ctx = needsContext ? await loadContext(g, env, flagged) : undefined;
  const endpoints = flagged ?? contextEndpoints(ctx!);
  const nodes = g.nodes ?? ctx?.context.nodes ?? [];
  if (endpoints[0]!.t === "unix") return { endpoints, nodes, tls: undefined };
  if (g.insecure) return { endpoints, nodes, tls: { trust: insecureTrust(g) } };
  return { endpoints, nodes, tls: mtls(ctx!) };
}

type NamedContext = { name: string; context: KilnContext; path: string };

/** The kilnconfig context to use; without a kilnconfig, a usage error saying what is missing. */
async function loadContext(g: Globals, env: Record<string, string | undefined>, flagged: Endpoint[] | undefined): Promise<NamedContext> {
  const loc = locateKilnconfig(g.kilnconfig, env);
  const config = await readKilnconfig(loc.path);
  if (config) return { ...selectContext(config, loc.path, g.context), path: loc.path };
  if (loc.explicit) throw new CliError(`reading kilnconfig ${loc.path}`, "no such file (kilnctl gen config or gen kilnconfig writes one)");
  if (!flagged) throw usageError("--endpoints", "no machine API endpoint: pass -e HOST[:PORT] or -e unix:///path/to/machined.sock, write a kilnconfig with kilnctl gen config, or set KILN_ENDPOINT");
  const why = `mTLS needs the machine CA and a client certificate from a kilnconfig, and there is none at ${loc.path}`;
  throw usageError("--kilnconfig", `${why} (kilnctl gen config writes one; use --insecure for a machine in maintenance mode)`);
}

/** The context's endpoints, or a usage error when it has none. */
function contextEndpoints(ctx: NamedContext): Endpoint[] {
  const text = ctx.context.endpoints.join(",");
  if (text === "") throw usageError("--endpoints", `no machine API endpoint: context "${ctx.name}" has none; pass -e HOST or run kilnctl config endpoint HOST`);
  return parseEndpoints(text, `context "${ctx.name}" endpoints`);
}

/** Maintenance mode: any server certificate, or only the one with the pinned fingerprint. */
function insecureTrust(g: Globals): ServerTrust {
  return g.certFingerprint ? { t: "pinned", fingerprint: g.certFingerprint } : { t: "any" };
}

/** mTLS from the context's CA, certificate and key. */
function mtls(ctx: NamedContext): Omit<ClientTls, "host"> {
  const { ca, crt, key } = ctx.context;
  if (!ca || !crt || !key) {
    throw usageError(`context "${ctx.name}"`, `needs ca, crt and key for mTLS (in ${ctx.path}); use --insecure for a machine in maintenance mode`);
  }
  const identity = { crt: decodeBase64Pem(crt), key: decodeBase64Pem(key) };
  const expires = new Date(new X509Certificate(identity.crt).validTo);
  if (expires.getTime() < Date.now()) {
    throw new CliError(`context "${ctx.name}"`, `the client certificate expired at ${expires.toISOString()} (kilnctl gen kilnconfig issues a new one)`);
  }
  return { trust: { t: "ca", ca: decodeBase64Pem(ca) }, identity };
}

/** Socket errors that say nothing answers yet (a machine booting or rebooting), not that it refused us. */
const passing = new Set(["ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** No endpoint could be reached (exit 4); `transient` when none answered at all (a reset says a server is there, maybe not apid). */
export class UnreachableError extends CliError {
  override name = "UnreachableError";
  constructor(
    what: string,
    reason: string,
    readonly transient: boolean,
  ) {
    super(what, reason, ExitCode.unavailable);
  }
}

/** The first endpoint whose TLS handshake succeeds; exit 4 naming each failure when none does. */
async function firstReachable(endpoints: Endpoint[], base: Omit<ClientTls, "host">, timeoutMs: number) {
  const failures: [Endpoint, string, boolean][] = [];
  for (const endpoint of endpoints) {
    if (endpoint.t !== "tcp") continue;
    const tls = { ...base, host: endpoint.host };
    try {
      return { endpoint, tls, peer: await probeServer(tls, endpoint.port, timeoutMs) };
    } catch (err) {
      failures.push([endpoint, probeReason(err, timeoutMs, base.identity !== undefined), passing.has((err as { code?: string }).code ?? "")]);
    }
  }
  const reason = failures.length === 1 ? failures[0]![1] : failures.map(([e, why]) => `${e.text}: ${why}`).join("; ");
  const transient = failures.length > 0 && failures.every(([, , t]) => t);
  throw new UnreachableError(`connecting to ${endpoints.map((e) => e.text).join(", ")}`, reason, transient);
}

/** TLS alerts a server sends after the handshake, when it rejects the client's certificate. */
const rejections: [RegExp, string][] = [
  [/alert certificate required/, "the server requires a client certificate (it is not in maintenance mode: connect without --insecure)"],
  [/alert (unknown ca|bad certificate|decrypt error)/, "the server rejected the client certificate (not issued by its machine CA)"],
  [/alert certificate expired/, "the server rejected the client certificate: it has expired (kilnctl gen kilnconfig issues a new one)"],
  [/alert unsupported certificate/, "the server rejected the client certificate (not for client authentication)"],
];

const untrusted = ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"];

/** Why a probe failed, in a few words; `withCert`: a client certificate was presented. */
function probeReason(err: unknown, timeoutMs: number, withCert: boolean): string {
  const { code, message } = err as { code?: string; message?: string };
  if (code === "ERR_KILN_CLOSED" && withCert) return `${message}: it did not accept the client certificate (is it from this machine's CA?)`;
  if (code === "ECONNREFUSED") return "connection refused (is apid running?)";
  if (code === "ETIMEDOUT") return `no answer within ${formatDuration(timeoutMs)}`;
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "no route to host";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host";
  if (code === "ECONNRESET") return "connection reset by the server (is it apid, serving TLS 1.3?)";
  if (code && untrusted.includes(code)) return `untrusted server certificate: ${message} (not signed by the kilnconfig context's CA; a machine in maintenance mode needs --insecure)`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `server certificate does not name this endpoint: ${message}`;
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return `server certificate: ${message}`;
  return rejections.find(([pattern]) => pattern.test(message ?? ""))?.[1] ?? describeError(err);
}

/** A call's UNAVAILABLE caused by the server refusing our certificate, in plain words naming the endpoint; else `err`. */
export function explainRefusal(err: unknown, endpoint: string): unknown {
  if (!(err instanceof ApiError) || err.code !== Code.UNAVAILABLE) return err;
  const found = rejections.find(([pattern]) => pattern.test(err.message));
  return found ? new CliError(`connecting to ${endpoint}`, found[1], ExitCode.unavailable, { cause: err }) : err;
}

/** Channel options that send `nodes` (comma-separated) as metadata on every call. */
function nodesOptions(nodes: string[]): ChannelOptions {
  if (nodes.length === 0) return {};
  const interceptor: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set("nodes", nodes.join(","));
        next(metadata, listener);
      },
    });
  return { interceptors: [interceptor] };
}
