// `kilnctl dmesg [-f] [--tail N]`: the machine's kernel log, each line
// prefixed with its node in table output, one record a line in JSON (JSON
// Lines) and YAML.
import { Command } from "commander";
import { parseCount } from "../counts.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf } from "../node-messages.js";
import { createStreamPrinter } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";

/** The JSON/YAML shape of one kernel log line. */
export interface KernelLineRecord {
  node: string;
  /** `kern  :info  : [   12.345678] message`, as dmesg -x prints it. */
  line: string;
}

/** `dmesg`: the kernel's buffer (or its last N records), then with -f new records until Ctrl-C. */
export function createDmesgCommand(deps: CliDeps): Command {
  const cmd = new Command("dmesg")
    .description("show the machine's kernel log")
    .option("-f, --follow", "keep printing new records until Ctrl-C")
    .option("--tail <records>", "print only the last N records of the buffer first");
  return addGlobalOptions(cmd, { connect: true }).action((o: { follow?: boolean; tail?: string }, c: Command) => {
    const tail = o.tail === undefined ? -1 : parseCount("--tail", o.tail);
    return withMachine(c, deps, "reading the kernel log", (m) => streamDmesg(m, tail, o.follow === true));
  });
}

/** Prints each batch of records as it arrives; every message holds whole lines. */
async function streamDmesg(m: MachineSession, tail: number, follow: boolean): Promise<void> {
  const print = createStreamPrinter<KernelLineRecord>(m.format, []);
  const decoder = new TextDecoder();
  await m.untilInterrupted(async (signal) => {
    const opts = follow ? { signal } : { ...m.call, signal };
    for await (const res of m.client.dmesg({ tail, follow }, opts)) {
      const node = nodeOf(res);
      for (const line of decoder.decode(res.data).split("\n").slice(0, -1)) {
        m.print(m.format === "table" ? `${node ? `${node}: ` : ""}${line}\n` : print({ node, line }));
      }
    }
  });
}
