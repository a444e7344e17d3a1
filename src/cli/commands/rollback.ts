// `kilnctl rollback [--reboot-mode default|powercycle] [--force]`: make the
// other boot slot the default and reboot into it, e.g. to go back after an
// upgrade that was committed but misbehaves.
import { Command, Option } from "commander";
import { RebootMode } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `rollback`, one per node. */
export interface RollbackRecord {
  node: string;
  /** The slot the machine reboots into, and the kiln version in it. */
  slot: string;
  version: string;
  /** "default" or "powercycle". */
  rebootMode: string;
  force: boolean;
}

const columns: Column<RollbackRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SLOT", value: (r) => r.slot },
  { header: "VERSION", value: (r) => r.version },
  { header: "REBOOT-MODE", value: (r) => r.rebootMode },
  { header: "RESULT", value: () => "rebooting" },
];

/** `rollback`: returns once the machine has started rebooting into the other slot. */
export function createRollbackCommand(deps: CliDeps): Command {
  const cmd = new Command("rollback")
    .description("make the other boot slot the default and reboot into it (admin only)")
    .addOption(new Option("--reboot-mode <mode>", "default (kexec when possible) or powercycle").choices(["default", "powercycle"]).default("default"))
    .option("--force", "skip the graceful stop of services");
  return addGlobalOptions(cmd, { connect: true }).action((o: { rebootMode: string; force?: boolean }, c: Command) =>
    withMachine(c, deps, "rolling back", async (m) => {
      const [rebootMode, force] = [o.rebootMode === "powercycle" ? RebootMode.POWERCYCLE : RebootMode.DEFAULT, o.force === true];
      const res = await m.client.rollback({ rebootMode, force }, m.call);
      const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), slot: r.slot, version: r.version, rebootMode: o.rebootMode, force }));
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
