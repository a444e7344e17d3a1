// apid's trust port (50001), on control-plane nodes only: TrustService, over
// TLS 1.3 with the machine's server certificate and no client certificate,
// since its callers (machines whose configs hold no machine CA key) have none
// yet. apid checks nothing but sizes and counts: it forwards each call as
// bytes to machined, with the address it came from, and machined checks the
// machine token and signs. The port serves that one RPC; a call past the
// limits is refused, not queued, and connections are held briefly.
import { type sendUnaryData, Server, type ServerUnaryCall } from "@grpc/grpc-js";
import { TrustService } from "../gen/kiln/trust/v1/trust_pb.js";
import { ApiError, Code } from "../grpc/errors.js";
import { peerAddress, trustPeerHeader } from "../machinery/apid.js";
import { cancelSignal, toStatus } from "../grpc/call-io.js";
import { methodPath } from "./authorization.js";
import { rawDefinition } from "./proxy.js";
import { bindFirst, stop } from "./server.js";
import { type ServerTls, serverCredentials } from "./tls-credentials.js";
import type { Lanes } from "./lanes.js";

/** The trust port's limits: calls in flight at once (all callers, and from one address), a request's bytes, how long machined may take. */
export const trustLimits: TrustLimits = { inFlight: 4, perPeer: 1, requestBytes: 32_768, timeoutMs: 30_000 };

export interface TrustLimits {
  inFlight: number;
  perPeer: number;
  requestBytes: number;
  timeoutMs: number;
}

/**
 * What one connection may hold: a few streams, a little memory, and no more
 * than a minute idle or five minutes in all. A worker makes one call and
 * leaves; whoever holds connections open is cut off.
 */
const connectionLimits = {
  "grpc.max_concurrent_streams": 4,
  "grpc-node.max_session_memory": 1,
  "grpc.max_connection_idle_ms": 60_000,
  "grpc.max_connection_age_ms": 300_000,
  "grpc.max_connection_age_grace_ms": 30_000,
};

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
  /** Serves new connections with this certificate and key (a checked pair). */
  replaceCertificate(tls: Omit<ServerTls, "ca">): void;
}

/** Starts the trust port's server. */
export async function startTrust(o: TrustOptions): Promise<TrustServer> {
  const limits = { ...trustLimits, ...o.limits };
  const server = new Server({ ...connectionLimits, "grpc.max_receive_message_length": limits.requestBytes });
  const path = methodPath(TrustService, "Certificate");
  const busy = new Map<string, number>();
  let inFlight = 0;
  const certificate = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    const peer = peerAddress(call.getPeer());
    const refusal = inFlight >= limits.inFlight ? `${limits.inFlight} certificate requests` : (busy.get(peer) ?? 0) >= limits.perPeer ? `a certificate request from ${peer}` : undefined;
    if (refusal) {
      callback(toStatus(new ApiError(Code.RESOURCE_EXHAUSTED, `this control plane is answering ${refusal} already; try again shortly`)));
      return;
    }
    inFlight++;
    busy.set(peer, (busy.get(peer) ?? 0) + 1);
    const deadline = Math.min(Number(call.getDeadline()) || Number.POSITIVE_INFINITY, Date.now() + limits.timeoutMs);
    // machined signs only the address the request came from (and loopback): apid says which, the caller cannot.
    const metadata = { [trustPeerHeader]: peer };
    o.machined
      .of("trust")
      .unary(path, call.request, { deadline, signal: cancelSignal(call), metadata })
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toStatus(err)),
      )
      .finally(() => {
        inFlight--;
        const left = (busy.get(peer) ?? 1) - 1;
        if (left === 0) busy.delete(peer);
        else busy.set(peer, left);
      });
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
  return { ports, close: (graceMs = 2000) => stop(server, graceMs), replaceCertificate: (tls) => creds.replace(tls) };
}
