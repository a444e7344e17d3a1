// Asking containerd over its own gRPC API on its unix socket, namespace by
// namespace (each sent as the `containerd-namespace` metadata containerd
// expects), with containerd's failures turned into machined's errors: its
// statuses stay here, at the client.
import { stat } from "node:fs/promises";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { credentials } from "@grpc/grpc-js";
import { Namespaces } from "../../gen/containerd/services/namespaces/v1/namespace_pb.js";
import { type Client, createClient } from "../../grpc/client.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { type MachineError, unavailable } from "../errors.js";

export type ClientOf<S> = S extends GenService<infer M> ? Client<M> : never;

/** How long each call to containerd may take. */
export const CALL_TIMEOUT_MS = 5000;

/** `each` over `namespace` ("" for every namespace, by name), results in namespace order. */
export async function perNamespace<M extends GenServiceMethods, T>(
  socket: string,
  namespace: string,
  service: GenService<M>,
  each: (client: Client<M>, ns: string) => Promise<T[]>,
): Promise<T[]> {
  await stat(socket).catch((err: unknown) => {
    throw notRunning(socket, err);
  });
  const target = `unix://${socket}`;
  const namespaces = createClient(Namespaces, target, credentials.createInsecure());
  const client = createClient(service, target, credentials.createInsecure());
  try {
    const names = namespace ? [namespace] : await namespaceNames(namespaces);
    const found = await Promise.all(names.map((ns) => each(client, ns)));
    return found.flat();
  } catch (err) {
    throw fromContainerd(socket, err);
  } finally {
    namespaces.close();
    client.close();
  }
}

/** Every containerd namespace, sorted. */
async function namespaceNames(client: ClientOf<typeof Namespaces>): Promise<string[]> {
  const res = await client.list({}, { timeoutMs: CALL_TIMEOUT_MS });
  return res.namespaces.map((n) => n.name).sort();
}

/** unavailable: containerd is not running (no socket, or nothing answers on it). */
export function notRunning(socket: string, cause: unknown): MachineError {
  return unavailable(`containerd is not running (no answer on ${socket})`, cause);
}

/** A failed call to containerd in machined's terms: its status stays here, at the client. */
export function fromContainerd(socket: string, err: unknown): Error {
  if (!(err instanceof ApiError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === Code.UNAVAILABLE) return notRunning(socket, err);
  if (err.code === Code.DEADLINE_EXCEEDED) return unavailable(`containerd did not answer on ${socket} within ${CALL_TIMEOUT_MS / 1000}s`, err);
  return new Error(`containerd on ${socket}: ${err.message}`, { cause: err });
}
