// `kilnctl processes [--sort cpu|rss]` (also `ps`): the machine's processes.
import { Command, Option } from "commander";
import type { ProcessInfo } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderList } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one process (`processes -o json` prints an array). */
export interface ProcessRecord {
  node: string;
  pid: number;
  ppid: number;
  state: string;
  threads: number;
  /** User + system CPU seconds. */
  cpuTime: number;
  /** Bytes. */
  virtualMemory: number;
  residentMemory: number;
  command: string;
  executable: string;
  args: string;
}

const columns: Column<ProcessRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "PID", value: (r) => String(r.pid) },
  { header: "STATE", value: (r) => r.state },
  { header: "THREADS", value: (r) => String(r.threads) },
  { header: "CPU-TIME", value: (r) => r.cpuTime.toFixed(2) },
  { header: "VIRTMEM", value: (r) => formatBytes(r.virtualMemory) },
  { header: "RESMEM", value: (r) => formatBytes(r.residentMemory) },
  { header: "COMMAND", value: (r) => r.args || `[${r.command}]` },
];

/** Largest first by the chosen key; ties by node, then pid. */
const sorts = {
  rss: (a: ProcessRecord, b: ProcessRecord) => b.residentMemory - a.residentMemory,
  cpu: (a: ProcessRecord, b: ProcessRecord) => b.cpuTime - a.cpuTime,
};

/** The record of one process reported by `node`. */
function processRecord(node: string, p: ProcessInfo): ProcessRecord {
  const { pid, ppid, state, threads, cpuTime, command, executable, args } = p;
  return { node, pid, ppid, state, threads, cpuTime, virtualMemory: Number(p.virtualMemory), residentMemory: Number(p.residentMemory), command, executable, args };
}

/** `processes`: every process of the machine, sorted. */
export function createProcessesCommand(deps: CliDeps): Command {
  const cmd = new Command("processes")
    .alias("ps")
    .description("list the machine's processes")
    .addOption(new Option("--sort <key>", "sort by CPU time or resident memory, largest first").choices(["cpu", "rss"]).default("rss"));
  return addGlobalOptions(cmd, { connect: true }).action((o: { sort: keyof typeof sorts }, c: Command) =>
    withMachine(c, deps, "listing processes", async (m) => {
      const res = await m.client.processes({}, m.call);
      const records = okMessages(res.messages).flatMap((list) => list.processes.map((p) => processRecord(nodeOf(list), p)));
      records.sort((a, b) => sorts[o.sort](a, b) || a.node.localeCompare(b.node) || a.pid - b.pid);
      m.print(renderList(m.format, records, columns));
    }),
  );
}
