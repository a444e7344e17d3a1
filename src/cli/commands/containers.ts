// `kilnctl containers [--namespace NS]`: the containers containerd knows.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import { type ContainerInfo, ContainerInfoSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import type { CliDeps } from "../deps.js";
import { CliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderMessages, rowsOf } from "../message-rows.js";
import { okMessages } from "../node-messages.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

const columns: Column<MessageRow<ContainerInfo>>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "NAMESPACE", value: (r) => r.msg.namespace },
  { header: "ID", value: (r) => r.msg.id },
  { header: "IMAGE", value: (r) => r.msg.image || "-" },
  { header: "RUNTIME", value: (r) => r.msg.runtime },
  { header: "CREATED", value: (r) => (r.msg.created ? timestampDate(r.msg.created).toISOString().replace(/\.\d+Z$/, "Z") : "-") },
];

/** `containers`: every namespace's containers, or one namespace's. */
export function createContainersCommand(deps: CliDeps): Command {
  const cmd = new Command("containers")
    .description("list the containers containerd knows")
    .option("--namespace <ns>", "only this containerd namespace, e.g. k8s.io (default: every namespace)");
  return addGlobalOptions(cmd, { connect: true }).action((o: { namespace?: string }, c: Command) =>
    withMachine(c, deps, "listing containers", (m) => list(m, o.namespace ?? "")),
  );
}

/** Prints the containers; containerd being down is the machine's answer, not a connection failure. */
async function list(m: MachineSession, namespace: string): Promise<void> {
  try {
    const res = await m.client.containers({ namespace }, m.call);
    m.print(renderMessages(m.format, ContainerInfoSchema, rowsOf(okMessages(res.messages), (x) => x.containers), columns));
  } catch (err) {
    if (err instanceof ApiError && err.code === Code.UNAVAILABLE && err.message.startsWith("containerd")) throw new CliError("listing containers", err.message);
    throw err;
  }
}
