// `kilnctl gen config|kilnconfig`: secrets, machine configs and client
// configs, made offline.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { createGenConfigCommand } from "./gen-config.js";
import { createGenKilnconfigCommand } from "./gen-kilnconfig.js";

/** `gen`: groups config and kilnconfig. */
export function createGenCommand(deps: CliDeps): Command {
  return new Command("gen")
    .description("generate secrets, machine configs and client configs")
    .addCommand(createGenConfigCommand(deps))
    .addCommand(createGenKilnconfigCommand(deps));
}
