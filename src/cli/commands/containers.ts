// `kilnctl containers [--namespace NS]`: the containers containerd knows.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import type { ContainerInfo } from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import type { CliDeps } from "../deps.js";
import { CliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderList } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one container (`containers -o json` prints an array). */
export interface ContainerRecord {
  node: string;
  namespace: string;
  id: string;
  image: string;
  runtime: string;
  /** ISO 8601; null when containerd did not say. */
  created: string | null;
}

const columns: Column<ContainerRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "NAMESPACE", value: (r) => r.namespace },
  { header: "ID", value: (r) => r.id },
  { header: "IMAGE", value: (r) => r.image || "-" },
  { header: "RUNTIME", value: (r) => r.runtime },
  { header: "CREATED", value: (r) => r.created?.replace(/\.\d+Z$/, "Z") ?? "-" },
];

/** The record of one container reported by `node`. */
function containerRecord(node: string, c: ContainerInfo): ContainerRecord {
  return { node, namespace: c.namespace, id: c.id, image: c.image, runtime: c.runtime, created: c.created ? timestampDate(c.created).toISOString() : null };
}

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
    m.print(renderList(m.format, okMessages(res.messages).flatMap((x) => x.containers.map((c) => containerRecord(nodeOf(x), c))), columns));
  } catch (err) {
    if (err instanceof ApiError && err.code === Code.UNAVAILABLE && err.message.startsWith("containerd")) throw new CliError("listing containers", err.message);
    throw err;
  }
}
