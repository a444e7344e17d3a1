// `kilnctl apply-config -f FILE [--mode M] [--dry-run] [--timeout D]`.
// Here --timeout is how long a `try` apply lasts (as in talosctl); the call
// deadline is the global --timeout, given before the command.
import { readFile } from "node:fs/promises";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Command, Option } from "commander";
import { parse } from "yaml";
import { secretsSet } from "../../config/secrets.js";
import { type ApplyConfiguration, ApplyMode, ApplyModeSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { withinConfigLimit } from "../config-size.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { kebabName } from "../enum-names.js";
import { toCliError, usageError } from "../errors.js";
import { addGlobalOptions, type Globals, resolveGlobals } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";
import { unifiedDiff } from "../text-diff.js";

export const modes: Record<string, ApplyMode> = {
  auto: ApplyMode.AUTO,
  "no-reboot": ApplyMode.NO_REBOOT,
  reboot: ApplyMode.REBOOT,
  staged: ApplyMode.STAGED,
  try: ApplyMode.TRY,
};

interface ApplyOptions {
  file: string;
  mode: string;
  dryRun?: boolean;
  timeout?: string;
  sendSecretsUnverified?: boolean;
}

/** The JSON/YAML shape of `apply-config`. */
export interface ApplyRecord {
  node: string;
  /** The mode used: auto resolves to no-reboot or reboot. */
  mode: string;
  details: string;
  changes: string[];
  needsReboot: string[];
  warnings: string[];
  dryRun: boolean;
}

export const applyColumns: Column<ApplyRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "MODE", value: (r) => r.mode },
  { header: "CHANGES", value: (r) => r.changes.join(", ") || "-" },
  { header: "NEEDS-REBOOT", value: (r) => r.needsReboot.join(", ") || "-" },
  { header: "DETAILS", value: (r) => (r.dryRun ? `(dry run) ${r.details}` : r.details) },
];

/** `apply-config`: sends a machine config; the machine validates it and applies it per the mode. */
export function createApplyConfigCommand(deps: CliDeps): Command {
  const cmd = new Command("apply-config")
    .description("apply a machine config to the machine")
    .requiredOption("-f, --file <file>", "machine config (YAML)")
    .addOption(new Option("--mode <mode>", "how to apply it").choices(Object.keys(modes)).default("auto"))
    .option("--dry-run", "validate and report what would change; change nothing")
    .option("--timeout <duration>", "with --mode try: revert after this long unless confirmed (default 1m)")
    .option("--send-secrets-unverified", "with --insecure and no --cert-fingerprint: send a config holding keys or tokens anyway");
  return addGlobalOptions(cmd, { connect: true, timeout: false }).action(async (o: ApplyOptions, c: Command) => {
    const req = await applyRequest(o);
    refuseUnverifiedSecrets(resolveGlobals(c, deps.io.env, ["timeout"]), o, req.data);
    return withMachine(c, deps, `applying ${o.file}`, (m) => apply(m, req), ["timeout"]);
  });
}

/** The request for these options, reading the file. */
async function applyRequest(o: ApplyOptions) {
  if (o.timeout !== undefined && o.mode !== "try") throw usageError("--timeout", "applies only to --mode try");
  const tryMs = o.timeout === undefined ? undefined : parseDurationFlag("--timeout", o.timeout);
  const data = await readFile(o.file).catch((err: unknown) => {
    throw toCliError(err, { what: `reading ${o.file}` });
  });
  withinConfigLimit(o.file, data);
  return { data, mode: modes[o.mode]!, dryRun: o.dryRun === true, tryTimeout: tryMs === undefined ? undefined : durationFromMs(tryMs) };
}

/**
 * --insecure without --cert-fingerprint trusts any server: a config holding
 * keys or tokens is not sent that way unless --send-secrets-unverified says so.
 */
function refuseUnverifiedSecrets(g: Globals, o: ApplyOptions, data: Uint8Array): void {
  if (!g.insecure || g.certFingerprint !== undefined || o.sendSecretsUnverified) return;
  let doc: unknown;
  try {
    doc = parse(new TextDecoder().decode(data));
  } catch {
    return; // not YAML: the machine refuses it, and it holds no field to name
  }
  const found = secretsSet(doc);
  if (found.length === 0) return;
  throw usageError(
    "--insecure",
    `refusing to send ${o.file}: it holds ${found.join(", ")}, and --insecure without --cert-fingerprint sends them to whatever server answers, unverified. ` +
      "Pin the machine: pass --cert-fingerprint with the SHA-256 fingerprint its console shows (\"maintenance mode: apid certificate fingerprint …\"), " +
      "or give --send-secrets-unverified to send them anyway",
  );
}

/** Applies the config and prints the outcome; warnings also go to stderr in table output. */
async function apply(m: MachineSession, req: Awaited<ReturnType<typeof applyRequest>>): Promise<void> {
  const diff = req.dryRun ? await dryRunDiff(m, req.data) : undefined;
  const res = await m.client.applyConfiguration(req, m.call);
  const records = okMessages(res.messages).map((r) => ({ ...applyRecord(r, req.dryRun), ...(diff === undefined ? {} : { diff }) }));
  if (m.format === "table") for (const w of records.flatMap((r) => r.warnings)) m.warn(w);
  if (m.format === "table" && diff !== undefined) m.print(diff || "no changes to the config text\n");
  m.print(renderPerNode(m.format, records, applyColumns, m.nodes.length > 1));
}

/**
 * What a dry run would change, as a unified diff of the machine's config and
 * the file, both written the way machined writes YAML (so formatting and
 * comments are not changes). Empty config in maintenance mode; none in a fan-out.
 */
async function dryRunDiff(m: MachineSession, data: Uint8Array): Promise<string | undefined> {
  if (m.nodes.length > 1) return undefined;
  const current = await m.client.getConfiguration({}, m.call).then(
    (res) => ({ node: nodeOf(res.messages[0] ?? {}), yaml: new TextDecoder().decode(res.messages[0]?.data) }),
    () => ({ node: "", yaml: "" }),
  );
  const text = new TextDecoder().decode(data);
  const [{ parseConfig }, { stringifyConfig }] = await Promise.all([import("../../config/parse.js"), import("../../config/stringify.js")]);
  const parsed = parseConfig(text);
  const after = "config" in parsed ? stringifyConfig(parsed.config) : text;
  return unifiedDiff(current.yaml, after, { from: `machine config (${current.node || m.endpoint})`, to: "file" });
}

/** The record of one node's answer. */
export function applyRecord(r: ApplyConfiguration, dryRun: boolean): ApplyRecord {
  const { modeDetails: details, changes, needsReboot, warnings } = r;
  return { node: nodeOf(r), mode: kebabName(ApplyModeSchema, r.mode), details, changes, needsReboot, warnings, dryRun };
}
