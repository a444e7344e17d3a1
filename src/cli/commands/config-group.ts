// `kilnctl config contexts|use-context|endpoint|node|new`: the kilnconfig's
// contexts (not the machine config: that is `get config`).
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { createConfigContextsCommand } from "./config-contexts.js";
import { createConfigEndpointCommand, createConfigNodeCommand } from "./config-edit.js";
import { createConfigNewCommand } from "./config-new.js";
import { createConfigUseContextCommand } from "./config-use-context.js";

/** `config`: groups the kilnconfig commands. */
export function createConfigCommand(deps: CliDeps): Command {
  return new Command("config")
    .description("show and edit the kilnconfig's contexts (the machine's config is `get config`)")
    .addCommand(createConfigContextsCommand(deps))
    .addCommand(createConfigUseContextCommand(deps))
    .addCommand(createConfigEndpointCommand(deps))
    .addCommand(createConfigNodeCommand(deps))
    .addCommand(createConfigNewCommand(deps));
}
