// The machine API on machined's local unix sockets: a grpc-js server whose
// main socket only root can reach (mode 0600 in a 0700 directory we create),
// and a second one only apid's user can reach, where apid forwards its
// callers' calls over the link (src/grpc/link-frames.ts) rather than gRPC.
import { chmod, chown, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { Server, ServerCredentials, ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import { TrustService } from "../../gen/kiln/trust/v1/trust_pb.js";
import { toStatus } from "../../grpc/call-io.js";
import { createLinkServer, type LinkServer } from "../../grpc/link-server.js";
import { linkRoutes } from "../../grpc/link-routes.js";
import { grpcImplementation } from "../../grpc/server.js";
import { maxOpenStreams } from "../../machinery/api-limits.js";
import type { Machine } from "../machine.js";
import { toApiError } from "./errors.js";
import { createMachineHandlers } from "./handlers.js";
import { createTrustHandlers } from "./trust-handlers.js";
import { createStreamGate, limitStreams, type StreamGate } from "./stream-limit.js";

export interface MachineApiOptions {
  /** The node name put in every response's metadata; default: the hostname, read per call. */
  node?: () => string;
  /** How long close() lets calls finish before cancelling them. Default 2000. */
  closeGraceMs?: number;
  /** Called with each call's path as it arrives, on every socket (tests observe which calls arrive). */
  onCall?: (path: string) => void;
  /** Calls one client connection may have open at once (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS; on apid's socket, the link's own); default: no limit. */
  maxStreamsPerConnection?: number;
  /** The most streams open at once over every socket; default maxOpenStreams (src/machinery/api-limits.ts). */
  maxStreams?: number;
}

/** A socket to serve on; with `owner`, the socket and its directory belong to that user (apid's socket). */
export interface ApiSocket {
  path: string;
  owner?: { uid: number; gid: number };
  /** apid's socket: believe the mode apid marks each call with (apidModeHeader); on any other socket it is ignored. */
  apid?: boolean;
}

export interface MachineApi {
  /** Stops accepting calls, cancels open streams after the grace period, removes the socket. */
  close(): Promise<void>;
}

/** Serves MachineService (and TrustService, which apid forwards from its trust port) for `machine` on each socket (mode 0600; root's unless it names an owner). */
export async function startMachineApi(machine: Machine, sockets: string | ApiSocket[], opts: MachineApiOptions = {}): Promise<MachineApi> {
  const list = typeof sockets === "string" ? [{ path: sockets }] : sockets;
  const gate = createStreamGate(opts.maxStreams ?? maxOpenStreams);
  const servers: (Server | LinkServer)[] = [];
  const close = () => Promise.all(servers.map((server, i) => stop(server, list[i]!.path, opts.closeGraceMs ?? 2000))).then(() => undefined);
  try {
    for (const s of list) servers.push(await serve(machine, s, gate, opts));
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

/** One server per socket, so a handler knows which socket its call came through; `gate` counts streams over all of them. */
async function serve(machine: Machine, s: ApiSocket, gate: StreamGate, opts: MachineApiOptions): Promise<Server | LinkServer> {
  const apidSocket = s.apid === true;
  const machineHandlers = limitStreams(createMachineHandlers(machine, opts.node ?? hostname, { apidSocket }), gate);
  const trustHandlers = createTrustHandlers(machine, { apidSocket });
  if (apidSocket) {
    const routes = new Map([...linkRoutes(MachineService, machineHandlers), ...linkRoutes(TrustService, trustHandlers)]);
    const link = createLinkServer({
      route: (path) => routes.get(path),
      toStatus: (err) => toStatus(err, toApiError),
      ...(opts.onCall ? { onCall: opts.onCall } : {}),
      ...(opts.maxStreamsPerConnection === undefined ? {} : { maxCallsPerConnection: opts.maxStreamsPerConnection }),
    });
    await listen(s, () => listenLink(link, s.path)).catch(async (err: unknown) => {
      await link.close(0);
      throw err;
    });
    return link;
  }
  const streams = opts.maxStreamsPerConnection === undefined ? {} : { "grpc.max_concurrent_streams": opts.maxStreamsPerConnection };
  const server = new Server({ interceptors: opts.onCall ? [arrivals(opts.onCall)] : [], ...streams });
  for (const { definition, implementation } of [grpcImplementation(MachineService, machineHandlers, { toApiError }), grpcImplementation(TrustService, trustHandlers, { toApiError })]) {
    server.addService(definition, implementation);
  }
  await listen(s, () => bind(server, `unix://${s.path}`)).catch((err: unknown) => {
    server.forceShutdown();
    throw err;
  });
  return server;
}

/** A grpc-js interceptor telling `onCall` each call's path. */
function arrivals(onCall: (path: string) => void): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        onCall(method.path);
        next();
      },
    });
}

/** Binds one socket with `bind`: 0600, then handed to its owner. */
async function listen(s: ApiSocket, bind: () => Promise<void>): Promise<void> {
  await prepareSocketPath(s.path, s.owner);
  await bind();
  await chmod(s.path, 0o600);
  if (s.owner) await chown(s.path, s.owner.uid, s.owner.gid);
}

/** Creates the socket's directory (0700, the owner's) and removes a stale socket left by a previous run. */
async function prepareSocketPath(socketPath: string, owner?: ApiSocket["owner"]): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (owner) await chown(dirname(socketPath), owner.uid, owner.gid);
  const st = await lstat(socketPath).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`machine API socket ${socketPath}: exists and is not a socket`);
  if (await answers(socketPath)) throw new Error(`machine API socket ${socketPath}: another server is listening on it`);
  await unlink(socketPath);
}

/** Whether something accepts connections on a unix socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Binds the server to an address (grpc-js starts serving once bound). */
function bind(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err) =>
      err ? reject(new Error(`binding the machine API to ${address}`, { cause: err })) : resolve(),
    );
  });
}

/** Listens on the link's socket. */
function listenLink(link: LinkServer, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    link.server.once("error", (err) => reject(new Error(`binding the machine API's link to ${path}`, { cause: err })));
    link.server.listen(path, () => resolve());
  });
}

/** Graceful shutdown, forced after `graceMs`; then the socket file goes. */
async function stop(server: Server | LinkServer, socketPath: string, graceMs: number): Promise<void> {
  if (server instanceof Server) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  } else await server.close(graceMs);
  await unlink(socketPath).catch(() => undefined);
}
