// `kilnctl hostname`: the machine's hostname.
import { Command } from "commander";
import { type Hostname, HostnameSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderNodeMessages } from "../message-rows.js";
import { okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

const columns: Column<MessageRow<Hostname>>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "HOSTNAME", value: (r) => r.msg.hostname },
];

/** `hostname`: one object (an array when several nodes answer). */
export function createHostnameCommand(deps: CliDeps): Command {
  const cmd = new Command("hostname").description("show the machine's hostname");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading the hostname", async (m) => {
      const messages = okMessages((await m.client.hostname({}, m.call)).messages);
      m.print(renderNodeMessages(m.format, HostnameSchema, messages, columns, m.nodes.length > 1));
    }),
  );
}
