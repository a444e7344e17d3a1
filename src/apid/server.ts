// apid's gRPC server: MachineService (forwarded to machined), health and
// reflection, over TLS 1.3 on every listen address.
import { type ChannelOptions, Server } from "@grpc/grpc-js";
import { apidConnectionLimits } from "../machinery/api-limits.js";
import type { Mode } from "./admission.js";
import type { DeniedCertificates } from "./denied-certificates.js";
import type { Remotes } from "./fan-out.js";
import { healthService } from "./health.js";
import { machineProxy } from "./proxy.js";
import { reflectionServices } from "./reflection.js";
import { createStreamLimits, type StreamLimits } from "./stream-limits.js";
import { type ServerTls, serverCredentials } from "./tls-credentials.js";
import type { Lanes } from "./lanes.js";

export interface ApidOptions {
  mode: Mode;
  tls: ServerTls;
  /**
   * Addresses to listen on, each a list of alternatives tried in turn:
   * [["[::]:50000", "0.0.0.0:50000"]] listens dual-stack, or IPv4 only where IPv6 is off.
   */
  listen: string[][];
  /** machined's socket for apid, a connection per role. */
  machined: Lanes;
  /** Other machines' apids (fan-out). */
  remotes: Remotes;
  /** Client certificates refused on every call (mTLS mode). */
  denied?: DeniedCertificates;
  /** Stream limits; default: those of src/machinery/api-limits.ts. */
  streams?: StreamLimits;
  /** Per-connection limits; default: apidConnectionLimits. */
  connection?: Partial<typeof apidConnectionLimits>;
}

export interface Apid {
  /** The bound ports, one per listen entry (useful with port 0). */
  ports: number[];
  /** Stops taking calls; lets open ones finish for `graceMs`, then cancels them. */
  close(graceMs?: number): Promise<void>;
  /** Serves new connections with `tls` (a checked pair); open ones keep their certificate. */
  replaceCertificate(tls: ServerTls): void;
}

/** Starts apid's server. */
export async function startApid(o: ApidOptions): Promise<Apid> {
  if (o.mode === "mtls" && !o.tls.ca) throw new Error("apid: mTLS mode needs the machine CA to verify clients with");
  const server = new Server(connectionOptions(o.connection));
  for (const s of [machineProxy({ mode: o.mode, machined: o.machined, remotes: o.remotes, streams: o.streams ?? createStreamLimits(), ...(o.denied ? { denied: o.denied } : {}) }), healthService(o.mode, o.machined.of("apid"), o.denied), ...reflectionServices(o.mode, o.denied)]) {
    server.addService(s.definition, s.implementation);
  }
  const creds = serverCredentials(o.tls);
  const ports: number[] = [];
  for (const alternatives of o.listen) ports.push(await bindFirst(server, alternatives, creds));
  return { ports, close: (graceMs = 2000) => stop(server, graceMs), replaceCertificate: (tls) => creds.replace(tls) };
}

/** grpc-js's server options for apid's per-connection limits (apidConnectionLimits, overridden by `given`). */
export function connectionOptions(given: ApidOptions["connection"] = {}): ChannelOptions {
  const c = { ...apidConnectionLimits, ...given };
  return {
    "grpc-node.max_session_memory": c.maxSessionMemoryMB,
    "grpc.max_connection_idle_ms": c.idleMs,
    "grpc.keepalive_time_ms": c.keepaliveMs,
    "grpc.keepalive_timeout_ms": c.keepaliveTimeoutMs,
  };
}

/** Binds the first address of `alternatives` that works; the error names every attempt. */
export async function bindFirst(server: Server, alternatives: string[], creds: ReturnType<typeof serverCredentials>): Promise<number> {
  const errors: Error[] = [];
  for (const address of alternatives) {
    try {
      return await bind(server, address, creds);
    } catch (err) {
      errors.push(err as Error);
    }
  }
  throw new AggregateError(errors, `apid: could not listen on ${alternatives.join(" or ")}: ${errors.map((e) => e.message).join("; ")}`);
}

/** Binds one address (grpc-js serves once bound). */
function bind(server: Server, address: string, creds: ReturnType<typeof serverCredentials>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(new Error(`binding ${address}`, { cause: err })) : resolve(port)));
  });
}

/** Graceful shutdown, forced after `graceMs`. */
export function stop(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
