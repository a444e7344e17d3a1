// `kilnctl logs ID [-f] [--tail N]`: a service's log, raw in table output,
// one record a line in JSON (JSON Lines) and YAML.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf } from "../node-messages.js";
import { createStreamPrinter } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import { parseCount } from "../counts.js";

/** The JSON/YAML shape of one log line. */
export interface LogLineRecord {
  node: string;
  line: string;
}

/** `logs ID`: the whole buffer (or its last N lines), then with -f new output until Ctrl-C. */
export function createLogsCommand(deps: CliDeps): Command {
  const cmd = new Command("logs")
    .description("show a service's log")
    .argument("<id>", "service id")
    .option("-f, --follow", "keep printing new output until Ctrl-C")
    .option("--tail <lines>", "print only the last N lines of the buffer first");
  return addGlobalOptions(cmd, { connect: true }).action((id: string, o: { follow?: boolean; tail?: string }, c: Command) => {
    const tailLines = o.tail === undefined ? -1 : parseCount("--tail", o.tail);
    return withMachine(c, deps, `logs of service "${id}"`, (m) => streamLogs(m, id, tailLines, o.follow === true));
  });
}

/** Streams the log to stdout. */
async function streamLogs(m: MachineSession, id: string, tailLines: number, follow: boolean): Promise<void> {
  const lines = createLineWriter(m);
  await m.untilInterrupted(async (signal) => {
    const opts = follow ? { signal } : { ...m.call, signal };
    for await (const res of m.client.logs({ id, tailLines, follow }, opts)) lines.write(nodeOf(res), res.data);
  });
  lines.flush();
}

/** Writes log data raw (table output) or as one record per complete line. */
function createLineWriter(m: MachineSession) {
  const print = createStreamPrinter<LogLineRecord>(m.format, []);
  const decoder = new TextDecoder();
  let pending = "";
  let lastNode = "";
  return {
    write(node: string, data: Uint8Array) {
      if (m.format === "table") return m.print(data);
      lastNode = node;
      const parts = (pending + decoder.decode(data, { stream: true })).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) m.print(print({ node, line }));
    },
    flush() {
      if (m.format !== "table" && pending !== "") m.print(print({ node: lastNode, line: pending }));
    },
  };
}
