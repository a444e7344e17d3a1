// `kilnctl reset [--graceful] [--reboot] [--wipe state,ephemeral]`: wipe the
// machine back to maintenance mode. It asks nothing: kilnctl is an API tool.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** What may be wiped, as the API names it. */
export const wipeTargets = ["state", "ephemeral"] as const;

/** The JSON/YAML shape of `reset`, one per node. */
export interface ResetRecord {
  node: string;
  wipe: string[];
  graceful: boolean;
  /** "reboot" or "poweroff". */
  after: string;
}

const columns: Column<ResetRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "WIPE", value: (r) => r.wipe.join(",") },
  { header: "GRACEFUL", value: (r) => (r.graceful ? "yes" : "no") },
  { header: "AFTER", value: (r) => r.after },
  { header: "RESULT", value: () => "requested" },
];

/** The --wipe list: comma-separated, each a known target, none twice; absent means all. */
export function parseWipe(text: string | undefined): string[] {
  if (text === undefined) return [...wipeTargets];
  const asked = text.split(",").map((w) => w.trim()).filter(Boolean);
  const known: readonly string[] = wipeTargets;
  if (asked.length === 0 || asked.some((w) => !known.includes(w))) {
    throw usageError("--wipe", `expected one or more of ${wipeTargets.join(", ")}, comma-separated, got "${text}"`);
  }
  return wipeTargets.filter((w) => asked.includes(w));
}

/** `reset`: returns once the machine has started its reset sequence. */
export function createResetCommand(deps: CliDeps): Command {
  const cmd = new Command("reset")
    .description("wipe the machine's STATE and EPHEMERAL partitions and boot it back into maintenance mode (admin only)")
    .option("--graceful", "stop services gracefully first (default: force)")
    .option("--reboot", "reboot afterwards (default: power off)")
    .option("--wipe <targets>", `what to wipe, comma-separated: ${wipeTargets.join(", ")} (default: both)`);
  return addGlobalOptions(cmd, { connect: true }).action((o: { graceful?: boolean; reboot?: boolean; wipe?: string }, c: Command) => {
    const wipe = parseWipe(o.wipe);
    const [graceful, reboot] = [o.graceful === true, o.reboot === true];
    return withMachine(c, deps, "resetting", async (m) => {
      const res = await m.client.reset({ graceful, reboot, wipe }, m.call);
      const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), wipe, graceful, after: reboot ? "reboot" : "poweroff" }));
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    });
  });
}
