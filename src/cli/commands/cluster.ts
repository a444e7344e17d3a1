// `kilnctl cluster create|destroy|show`: local machines run by a provisioner.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { createClusterCreateCommand } from "./cluster-create.js";
import { createClusterDestroyCommand } from "./cluster-destroy.js";
import { createClusterShowCommand } from "./cluster-show.js";

/** `cluster`: groups create, destroy and show. */
export function createClusterCommand(deps: CliDeps): Command {
  return new Command("cluster")
    .description("create, destroy and list local machines")
    .addCommand(createClusterCreateCommand(deps))
    .addCommand(createClusterDestroyCommand(deps))
    .addCommand(createClusterShowCommand(deps));
}
