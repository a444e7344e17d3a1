// Images known to containerd, asked over its own gRPC API: every namespace,
// or one (the kubelet's are in k8s.io).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Image, Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { CALL_TIMEOUT_MS, type ClientOf, perNamespace } from "./containerd-api.js";

export interface ImageEntry {
  namespace: string;
  name: string;
  /** The target's digest (a manifest or an index). */
  digest: string;
  mediaType: string;
  /** The target document's size (not the layers'). */
  size: number;
  created: Date | undefined;
}

/** Images in `namespace` ("" for every namespace), by namespace then name. */
export async function listImages(socket: string, namespace: string): Promise<ImageEntry[]> {
  return perNamespace(socket, namespace, Images, inNamespace);
}

async function inNamespace(client: ClientOf<typeof Images>, ns: string): Promise<ImageEntry[]> {
  const res = await client.list({}, { timeoutMs: CALL_TIMEOUT_MS, metadata: { "containerd-namespace": ns } });
  return res.images.map((i) => toEntry(ns, i)).sort((a, b) => a.name.localeCompare(b.name));
}

function toEntry(namespace: string, i: Image): ImageEntry {
  return {
    namespace,
    name: i.name,
    digest: i.target?.digest ?? "",
    mediaType: i.target?.mediaType ?? "",
    size: Number(i.target?.size ?? 0n),
    created: i.createdAt ? timestampDate(i.createdAt) : undefined,
  };
}
