// ImageImport, a client stream: its first message a header (namespace, the
// archive's size), then the archive's bytes. This maps the messages to one
// call of the facade, refusing a stream of the wrong shape or a data message
// over its limit, and the imported images back to protobuf.
import type { ImageImportRequest } from "../../gen/kiln/machine/v1/machine_pb.js";
import { maxImageChunkBytes, maxNamespaceBytes } from "../../machinery/api-limits.js";
import { invalid } from "../errors.js";
import { KUBERNETES_NAMESPACE } from "../images/image-cache.js";
import type { Machine } from "../machine.js";
import { tooLarge, withinLimit } from "./request-limits.js";
import type { MachineServiceImpl } from "./service-impl.js";

/** The ImageImport handler; `metadata` tags the answer with the node. */
export function createImageImportHandler(machine: Machine, metadata: () => { node: string }): Pick<MachineServiceImpl, "imageImport"> {
  return {
    imageImport: async (reqs, ctx) => {
      const it = reqs[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.part.case !== "header") {
        throw invalid("expected the first ImageImportRequest to be a header (namespace, total_size), then data messages");
      }
      const h = first.value.part.value;
      const namespace = withinLimit("namespace", h.namespace, maxNamespaceBytes) || KUBERNETES_NAMESPACE;
      const r = await machine.imageImport({ namespace, totalSize: Number(h.totalSize), data: chunks(it), signal: ctx.signal });
      return { messages: [{ metadata: metadata(), namespace: r.namespace, images: r.images, received: BigInt(r.received) }] };
    },
  };
}

/** The data of the messages after the header, each at most maxImageChunkBytes. */
async function* chunks(it: AsyncIterator<ImageImportRequest>): AsyncIterable<Uint8Array> {
  for (let n = await it.next(); !n.done; n = await it.next()) {
    const part = n.value.part;
    if (part.case !== "data") throw invalid("expected data after ImageImportRequest's header, got a second header");
    if (part.value.length > maxImageChunkBytes) throw tooLarge("a data message", part.value.length, maxImageChunkBytes);
    yield part.value;
  }
}
