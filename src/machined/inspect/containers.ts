// Containers known to containerd, asked over its own gRPC API on its unix
// socket (proto/containerd/): every namespace, or one, each namespace sent
// as the `containerd-namespace` metadata containerd expects.
import { stat } from "node:fs/promises";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { credentials } from "@grpc/grpc-js";
import { type Container, Containers } from "../../gen/containerd/services/containers/v1/containers_pb.js";
import { Namespaces } from "../../gen/containerd/services/namespaces/v1/namespace_pb.js";
import { type Client, createClient } from "../../grpc/client.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { type MachineError, unavailable } from "../errors.js";

type ClientOf<S> = S extends GenService<infer M> ? Client<M> : never;

export interface ContainerEntry {
  namespace: string;
  id: string;
  image: string;
  /** e.g. io.containerd.runc.v2 */
  runtime: string;
  created: Date | undefined;
}

/** How long each call to containerd may take. */
const CALL_TIMEOUT_MS = 5000;

/** Containers in `namespace` ("" for every namespace), by namespace then id. */
export async function listContainers(socket: string, namespace: string): Promise<ContainerEntry[]> {
  await stat(socket).catch((err: unknown) => {
    throw notRunning(socket, err);
  });
  const target = `unix://${socket}`;
  const namespaces = createClient(Namespaces, target, credentials.createInsecure());
  const containers = createClient(Containers, target, credentials.createInsecure());
  try {
    const names = namespace ? [namespace] : await namespaceNames(namespaces);
    const found = await Promise.all(names.map((ns) => inNamespace(containers, ns)));
    return found.flat();
  } catch (err) {
    throw fromContainerd(socket, err);
  } finally {
    namespaces.close();
    containers.close();
  }
}

/** Every containerd namespace, sorted. */
async function namespaceNames(client: ClientOf<typeof Namespaces>): Promise<string[]> {
  const res = await client.list({}, { timeoutMs: CALL_TIMEOUT_MS });
  return res.namespaces.map((n) => n.name).sort();
}

/** The containers of one namespace, sorted by id. */
async function inNamespace(client: ClientOf<typeof Containers>, ns: string): Promise<ContainerEntry[]> {
  const res = await client.list({}, { timeoutMs: CALL_TIMEOUT_MS, metadata: { "containerd-namespace": ns } });
  return res.containers.map((c) => toEntry(ns, c)).sort((a, b) => a.id.localeCompare(b.id));
}

/** Our view of a containerd container. */
function toEntry(namespace: string, c: Container): ContainerEntry {
  return { namespace, id: c.id, image: c.image, runtime: c.runtime?.name ?? "", created: c.createdAt ? timestampDate(c.createdAt) : undefined };
}

/** unavailable: containerd is not running (no socket, or nothing answers on it). */
function notRunning(socket: string, cause: unknown): MachineError {
  return unavailable(`containerd is not running (no answer on ${socket})`, cause);
}

/** A failed call to containerd in machined's terms: its status stays here, at the client. */
function fromContainerd(socket: string, err: unknown): Error {
  if (!(err instanceof ApiError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === Code.UNAVAILABLE) return notRunning(socket, err);
  if (err.code === Code.DEADLINE_EXCEEDED) return unavailable(`containerd did not answer on ${socket} within ${CALL_TIMEOUT_MS / 1000}s`, err);
  return new Error(`containerd on ${socket}: ${err.message}`, { cause: err });
}
