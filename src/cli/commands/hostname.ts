// `kilnctl hostname`: the machine's hostname.
import { Command } from "commander";
import type { Hostname } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `hostname`. */
export interface HostnameRecord {
  node: string;
  hostname: string;
}

const columns: Column<HostnameRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "HOSTNAME", value: (r) => r.hostname },
];

/** The record of one node's hostname. */
function hostnameRecord(h: Hostname): HostnameRecord {
  return { node: nodeOf(h), hostname: h.hostname };
}

/** `hostname`: one object (an array when several nodes answer). */
export function createHostnameCommand(deps: CliDeps): Command {
  const cmd = new Command("hostname").description("show the machine's hostname");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading the hostname", async (m) => {
      const records = okMessages((await m.client.hostname({}, m.call)).messages).map(hostnameRecord);
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
