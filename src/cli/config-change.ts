// What `edit config` and `patch config` share: the machine's current config,
// an offline check of the new one, and applying it with a mode, printed as
// `apply-config` prints it plus the diff.
import { Option } from "commander";
import { ApiError, Code } from "../grpc/errors.js";
import { type ApplyRecord, applyColumns, applyRecord, modes } from "./commands/apply-config.js";
import { withinConfigLimit } from "./config-size.js";
import type { CliDeps } from "./deps.js";
import { CliError, usageError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import { nodeOf, okMessages, onlyMessage } from "./node-messages.js";
import { renderPerNode } from "./output.js";
import type { MachineSession } from "./session.js";

export interface ChangeOptions {
  mode: string;
  dryRun?: boolean;
}

/** The JSON/YAML shape of `edit config` and `patch config`: apply-config's, plus the unified diff. */
export interface ChangeRecord extends ApplyRecord {
  diff: string;
}

export interface CurrentConfig {
  node: string;
  yaml: string;
}

/** --mode and --dry-run, as apply-config takes them. */
export function changeOptions(): Option[] {
  const mode = new Option("--mode <mode>", "how to apply it").choices(Object.keys(modes)).default("auto");
  return [mode, new Option("--dry-run", "check it and show what would change; change nothing")];
}

/** The machine's config as YAML and the node that sent it; one node only; exit 3 in maintenance mode. */
export async function fetchConfig(m: MachineSession): Promise<CurrentConfig> {
  if (m.nodes.length > 1) throw usageError("--nodes", `a machine config is changed one machine at a time; got ${m.nodes.length} nodes`);
  const res = await m.client.getConfiguration({}, m.call).catch((err: unknown) => {
    const maintenance = err instanceof ApiError && err.code === Code.NOT_FOUND;
    throw maintenance ? new CliError("machine config", "none applied (the machine is in maintenance mode)", ExitCode.notFound) : err;
  });
  const msg = onlyMessage(res.messages);
  return { node: nodeOf(msg), yaml: new TextDecoder().decode(msg.data) };
}

/** Every error parseConfig finds in `yaml`; none when it is valid. */
export async function configErrors(deps: CliDeps, yaml: string): Promise<string[]> {
  const result = (await deps.parseConfig())(yaml);
  return "errors" in result ? result.errors.map(String) : [];
}

/** The failure for a config with `errors`, worded as the machine words it. */
export function invalidConfig(what: string, errors: string[], subject = "machine config"): CliError {
  return new CliError(what, `${subject} is invalid:\n${errors.join("\n")}`);
}

/** Applies `yaml` with the mode and prints the outcome; the diff too under --dry-run. */
export async function applyChange(m: MachineSession, yaml: string, o: ChangeOptions, diff: string): Promise<void> {
  const dryRun = o.dryRun === true;
  const data = withinConfigLimit("machine config", new TextEncoder().encode(yaml));
  const res = await m.client.applyConfiguration({ data, mode: modes[o.mode]!, dryRun }, m.call);
  const records: ChangeRecord[] = okMessages(res.messages).map((r) => ({ ...applyRecord(r, dryRun), diff }));
  if (m.format === "table") for (const w of records.flatMap((r) => r.warnings)) m.warn(w);
  if (m.format === "table" && dryRun) m.print(diff || "no changes to the config text\n");
  m.print(renderPerNode(m.format, records, applyColumns, m.nodes.length > 1));
}
