// The machine API on machined's local unix socket: a grpc-js server whose
// socket only root can reach (mode 0600 in a 0700 directory we create).
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import { grpcImplementation } from "../../grpc/server.js";
import type { Machine } from "../machine.js";
import { createMachineHandlers } from "./handlers.js";

export interface MachineApiOptions {
  /** The node name put in every response's metadata; default: the hostname, read per call. */
  node?: () => string;
  /** How long close() lets calls finish before cancelling them. Default 2000. */
  closeGraceMs?: number;
}

export interface MachineApi {
  /** Stops accepting calls, cancels open streams after the grace period, removes the socket. */
  close(): Promise<void>;
}

/** Serves MachineService for `machine` on `unix://socketPath`. */
export async function startMachineApi(machine: Machine, socketPath: string, opts: MachineApiOptions = {}): Promise<MachineApi> {
  await prepareSocketPath(socketPath);
  const server = new Server();
  const { definition, implementation } = grpcImplementation(MachineService, createMachineHandlers(machine, opts.node ?? hostname));
  server.addService(definition, implementation);
  await bind(server, `unix://${socketPath}`);
  await chmod(socketPath, 0o600);
  return { close: () => stop(server, socketPath, opts.closeGraceMs ?? 2000) };
}

/** Creates the socket's directory (0700) and removes a stale socket left by a previous run. */
async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
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

/** Graceful shutdown, forced after `graceMs`; then the socket file goes. */
async function stop(server: Server, socketPath: string, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  await unlink(socketPath).catch(() => undefined);
}
