// `kilnctl get config` (also `get machineconfig`): the machine's current config;
// `get links|addresses|routes` live in network.ts, `get sequences` in sequences.ts.
import { Command } from "commander";
import { parse } from "yaml";
import { ApiError, Code } from "../../grpc/errors.js";
import type { CliDeps } from "../deps.js";
import { CliError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, onlyMessage } from "../node-messages.js";
import { createNetworkGetCommands } from "./network.js";
import { createSequencesCommand } from "./sequences.js";
import { type MachineSession, withMachine } from "../session.js";

/** `get`: resources of the machine: its config, links, addresses, routes and sequences. */
export function createGetCommand(deps: CliDeps): Command {
  const get = new Command("get").description("show a resource of the machine");
  const config = new Command("config").alias("machineconfig").description("show the machine config");
  addGlobalOptions(config, { connect: true }).action((_o, c: Command) => withMachine(c, deps, "machine config", (m) => printConfig(m)));
  get.addCommand(config);
  for (const sub of createNetworkGetCommands(deps)) get.addCommand(sub);
  get.addCommand(createSequencesCommand(deps));
  return get;
}

/**
 * Prints the config: verbatim YAML for -o yaml (so it can be edited and
 * applied again), the same under a `# node:` comment for table output, and
 * `{ node, config }` with the config parsed for -o json.
 */
async function printConfig(m: MachineSession): Promise<void> {
  const res = await m.client.getConfiguration({}, m.call).catch((err: unknown) => {
    const maintenance = err instanceof ApiError && err.code === Code.NOT_FOUND;
    throw maintenance ? new CliError("machine config", "none applied (the machine is in maintenance mode)", ExitCode.notFound) : err;
  });
  const msg = onlyMessage(res.messages);
  const yaml = new TextDecoder().decode(msg.data);
  if (m.format === "json") return m.print(`${JSON.stringify({ node: nodeOf(msg), config: parse(yaml) }, null, 2)}\n`);
  const header = m.format === "table" && nodeOf(msg) ? `# node: ${nodeOf(msg)}\n` : "";
  m.print(header + yaml + (yaml.endsWith("\n") ? "" : "\n"));
}
