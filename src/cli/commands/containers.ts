// `kilnctl containers [--namespace NS]`: the containers containerd knows.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { ContainerInfoSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { containerdListCommand, isoSeconds } from "./containerd-list.js";

export function createContainersCommand(deps: CliDeps): Command {
  return containerdListCommand(deps, {
    name: "containers",
    description: "list the containers containerd knows",
    doing: "listing containers",
    schema: ContainerInfoSchema,
    columns: [
      { header: "NODE", value: (r) => r.node, optional: true },
      { header: "NAMESPACE", value: (r) => r.msg.namespace },
      { header: "ID", value: (r) => r.msg.id },
      { header: "IMAGE", value: (r) => r.msg.image || "-" },
      { header: "RUNTIME", value: (r) => r.msg.runtime },
      { header: "CREATED", value: (r) => isoSeconds(r.msg.created ? timestampDate(r.msg.created) : undefined) },
    ],
    call: (m, namespace) => m.client.containers({ namespace }, m.call),
    records: (x) => x.containers,
  });
}
