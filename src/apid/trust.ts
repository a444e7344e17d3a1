// apid's trust port (50001), on control-plane nodes only: TrustService, over
// TLS 1.3 with the machine's server certificate and no client certificate,
// since its callers (machines whose configs hold no machine CA key) have none
// yet. apid checks nothing but sizes and counts: it forwards each call as
// bytes to machined, which checks the machine token and signs. The port
// serves that one RPC; a caller that floods it is refused, not queued.
import { type sendUnaryData, Server, type ServerUnaryCall } from "@grpc/grpc-js";
import { TrustService } from "../gen/kiln/trust/v1/trust_pb.js";
import { ApiError, Code } from "../grpc/errors.js";
import { cancelSignal, toStatus } from "../grpc/call-io.js";
import { methodPath } from "./authorization.js";
import { rawDefinition } from "./proxy.js";
import { bindFirst, stop } from "./server.js";
import { type ServerTls, serverCredentials } from "./tls-credentials.js";
import type { Lanes } from "./upstream.js";

/** The trust port's limits: calls in flight at once (all callers), a request's bytes, how long machined may take. */
export const trustLimits: TrustLimits = { inFlight: 4, requestBytes: 32_768, timeoutMs: 30_000 };

export interface TrustLimits {
  inFlight: number;
  requestBytes: number;
  timeoutMs: number;
}

export interface TrustOptions {
  /** The server certificate and key; no CA: clients are not asked for certificates. */
  tls: Omit<ServerTls, "ca">;
  /** Addresses to listen on, as ApidOptions.listen. */
  listen: string[][];
  machined: Lanes;
  limits?: Partial<TrustLimits>;
}

export interface TrustServer {
  ports: number[];
  close(graceMs?: number): Promise<void>;
}

/** Starts the trust port's server. */
export async function startTrust(o: TrustOptions): Promise<TrustServer> {
  const limits = { ...trustLimits, ...o.limits };
  // No per-connection stream limit: a stream past the in-flight limit is refused below rather than queued.
  const server = new Server({ "grpc.max_receive_message_length": limits.requestBytes });
  const path = methodPath(TrustService, "Certificate");
  let inFlight = 0;
  const certificate = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    if (inFlight >= limits.inFlight) {
      callback(toStatus(new ApiError(Code.RESOURCE_EXHAUSTED, `this control plane is answering ${limits.inFlight} certificate requests already; try again shortly`)));
      return;
    }
    inFlight++;
    const deadline = Math.min(Number(call.getDeadline()) || Number.POSITIVE_INFINITY, Date.now() + limits.timeoutMs);
    o.machined
      .of("trust")
      .unary(path, call.request, { deadline, signal: cancelSignal(call) })
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toStatus(err)),
      )
      .finally(() => inFlight--);
  };
  server.addService(rawDefinition(TrustService), { certificate });
  const creds = serverCredentials(o.tls);
  const ports: number[] = [];
  try {
    for (const alternatives of o.listen) ports.push(await bindFirst(server, alternatives, creds));
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  return { ports, close: (graceMs = 2000) => stop(server, graceMs) };
}
