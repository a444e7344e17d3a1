// Containers known to containerd, asked over its own gRPC API on its unix
// socket (proto/containerd/): every namespace, or one, each namespace sent
// as the `containerd-namespace` metadata containerd expects.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Container, Containers } from "../../gen/containerd/services/containers/v1/containers_pb.js";
import { CALL_TIMEOUT_MS, type ClientOf, perNamespace } from "./containerd-api.js";

export interface ContainerEntry {
  namespace: string;
  id: string;
  image: string;
  /** e.g. io.containerd.runc.v2 */
  runtime: string;
  created: Date | undefined;
}

/** Containers in `namespace` ("" for every namespace), by namespace then id. */
export async function listContainers(socket: string, namespace: string): Promise<ContainerEntry[]> {
  return perNamespace(socket, namespace, Containers, inNamespace);
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
