// `kilnctl patch config -p PATCH [-p PATCH…] [--mode M] [--dry-run]` (also
// `patch machineconfig`): applies JSON Patches and merge patches to the
// machine's config in order, checks the result offline, and applies it.
import { Command } from "commander";
import { loadYaml } from "../../config/load-yaml.js";
import { applyChange, type ChangeOptions, changeOptions, configErrors, fetchConfig, invalidConfig } from "../config-change.js";
import type { CliDeps } from "../deps.js";
import { CliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { applyPatches, type Patch, readPatches } from "../patch.js";
import { type MachineSession, withMachine } from "../session.js";
import { unifiedDiff } from "../text-diff.js";
import { updateYaml } from "../yaml-update.js";

const what = "patching machine config";

interface PatchOptions extends ChangeOptions {
  patch: string[];
}

/** `patch`: changes a resource of the machine with a patch; only the machine config so far. */
export function createPatchCommand(deps: CliDeps): Command {
  const patch = new Command("patch").description("change a resource of the machine with a JSON Patch or merge patch");
  const config = new Command("config")
    .alias("machineconfig")
    .description("patch the machine config, check it and apply it")
    .requiredOption("-p, --patch <patch>", "a JSON Patch (list) or merge patch (map) as JSON or YAML, or @FILE; repeat to apply several in order", collect);
  for (const option of changeOptions()) config.addOption(option);
  addGlobalOptions(config, { connect: true }).action(async (o: PatchOptions, c: Command) => {
    const patches = await readPatches(o.patch);
    return withMachine(c, deps, what, (m) => patchConfig(m, patches, o));
  });
  return patch.addCommand(config);
}

/** Collects a repeated option's values in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Patches the machine's config, checks the result, and applies it with the mode. */
async function patchConfig(m: MachineSession, patches: Patch[], o: PatchOptions): Promise<void> {
  const current = await fetchConfig(m);
  const yaml = patchedYaml(current.yaml, patches);
  const errors = await configErrors(m.deps, yaml);
  if (errors.length > 0) throw invalidConfig(what, errors, "the patched config");
  const diff = unifiedDiff(current.yaml, yaml, { from: `machine config (${current.node || m.endpoint})`, to: "patched" });
  await applyChange(m, yaml, o, diff);
}

/** The config text with the patches applied; what they did not touch keeps its comments and style. */
function patchedYaml(text: string, patches: Patch[]): string {
  const loaded = loadYaml(text);
  if ("errors" in loaded) throw new CliError("reading the machine config", loaded.errors.join("\n"));
  return updateYaml(text, applyPatches(loaded.value, patches));
}
