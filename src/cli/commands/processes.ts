// `kilnctl processes [--sort cpu|rss]` (also `ps`): the machine's processes.
import { Command, Option } from "commander";
import { type ProcessInfo, ProcessInfoSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderMessages, rowsOf } from "../message-rows.js";
import { okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

type Row = MessageRow<ProcessInfo>;

const columns: Column<Row>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "PID", value: (r) => String(r.msg.pid) },
  { header: "STATE", value: (r) => r.msg.state },
  { header: "THREADS", value: (r) => String(r.msg.threads) },
  { header: "CPU-TIME", value: (r) => r.msg.cpuTime.toFixed(2) },
  { header: "VIRTMEM", value: (r) => formatBytes(Number(r.msg.virtualMemory)) },
  { header: "RESMEM", value: (r) => formatBytes(Number(r.msg.residentMemory)) },
  { header: "COMMAND", value: (r) => r.msg.args || `[${r.msg.command}]` },
];

/** Largest first by the chosen key; ties by node, then pid. */
const sorts = {
  rss: (a: Row, b: Row) => Number(b.msg.residentMemory - a.msg.residentMemory),
  cpu: (a: Row, b: Row) => b.msg.cpuTime - a.msg.cpuTime,
};

/** `processes`: every process of the machine, sorted. */
export function createProcessesCommand(deps: CliDeps): Command {
  const cmd = new Command("processes")
    .alias("ps")
    .description("list the machine's processes")
    .addOption(new Option("--sort <key>", "sort by CPU time or resident memory, largest first").choices(["cpu", "rss"]).default("rss"));
  return addGlobalOptions(cmd, { connect: true }).action((o: { sort: keyof typeof sorts }, c: Command) =>
    withMachine(c, deps, "listing processes", async (m) => {
      const res = await m.client.processes({}, m.call);
      const rows = rowsOf(okMessages(res.messages), (list) => list.processes);
      rows.sort((a, b) => sorts[o.sort](a, b) || a.node.localeCompare(b.node) || a.msg.pid - b.msg.pid);
      m.print(renderMessages(m.format, ProcessInfoSchema, rows, columns));
    }),
  );
}
