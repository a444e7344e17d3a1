// `kilnctl reboot [--mode default|powercycle] [--force]`.
import { Command, Option } from "commander";
import { RebootMode } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `reboot` and `shutdown`. */
export interface PowerRecord {
  node: string;
  /** "reboot" or "shutdown". */
  action: string;
  /** Reboot mode; "" for shutdown. */
  mode: string;
  force: boolean;
}

export const powerColumns: Column<PowerRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "ACTION", value: (r) => r.action },
  { header: "MODE", value: (r) => r.mode || "-" },
  { header: "FORCE", value: (r) => (r.force ? "yes" : "no") },
  { header: "RESULT", value: () => "requested" },
];

/** Prints one record per node that accepted the request. */
export function printPower(m: Pick<MachineSession, "print" | "format" | "nodes">, records: PowerRecord[]): void {
  m.print(renderPerNode(m.format, records, powerColumns, m.nodes.length > 1));
}

/** `reboot`: returns once the machine has started its reboot sequence. */
export function createRebootCommand(deps: CliDeps): Command {
  const cmd = new Command("reboot")
    .description("reboot the machine")
    .addOption(new Option("--mode <mode>", "default (kexec when possible) or powercycle").choices(["default", "powercycle"]).default("default"))
    .option("--force", "skip the graceful stop of services");
  return addGlobalOptions(cmd, { connect: true }).action((o: { mode: string; force?: boolean }, c: Command) =>
    withMachine(c, deps, "rebooting", async (m) => {
      const mode = o.mode === "powercycle" ? RebootMode.POWERCYCLE : RebootMode.DEFAULT;
      const res = await m.client.reboot({ mode, force: o.force === true }, m.call);
      const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), action: "reboot", mode: o.mode, force: o.force === true }));
      printPower(m, records);
    }),
  );
}
