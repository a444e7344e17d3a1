// `kilnctl images [--namespace NS]`: the images containerd knows (the
// kubelet's in k8s.io; the image cache's pause image among them).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { ImageInfoSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { containerdListCommand, isoSeconds } from "./containerd-list.js";

export function createImagesCommand(deps: CliDeps): Command {
  return containerdListCommand(deps, {
    name: "images",
    description: "list the images containerd knows",
    doing: "listing images",
    schema: ImageInfoSchema,
    columns: [
      { header: "NODE", value: (r) => r.node, optional: true },
      { header: "NAMESPACE", value: (r) => r.msg.namespace },
      { header: "NAME", value: (r) => r.msg.name },
      { header: "DIGEST", value: (r) => r.msg.digest.replace(/^sha256:(.{12}).*$/, "sha256:$1") },
      { header: "SIZE", value: (r) => formatBytes(Number(r.msg.size)) },
      { header: "CREATED", value: (r) => isoSeconds(r.msg.created ? timestampDate(r.msg.created) : undefined) },
    ],
    call: (m, namespace) => m.client.images({ namespace }, m.call),
    records: (x) => x.images,
  });
}
