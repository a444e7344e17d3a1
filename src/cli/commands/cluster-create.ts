// `kilnctl cluster create --provisioner sandbox --name NAME [--config FILE] [--wait-timeout D]`.
import { resolve } from "node:path";
import { Command, Option } from "commander";
import type { CreateOptions, ProvisionerName } from "../../provision/provisioner.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { toCliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { machineColumns } from "../machine-view.js";
import { createSession } from "../session.js";

interface CreateFlags {
  provisioner: string;
  name: string;
  config?: string;
  waitTimeout?: string;
}

/** `cluster create`: starts a machine and prints its MachineInfo once its API answers. */
export function createClusterCreateCommand(deps: CliDeps): Command {
  const cmd = new Command("create")
    .description("create and start a machine")
    .addOption(new Option("--provisioner <name>", "where the machine runs").choices(["sandbox"]).default("sandbox"))
    .requiredOption("--name <name>", "machine name")
    .option("--config <file>", "machine config to boot with (default: maintenance mode)")
    .option("--wait-timeout <duration>", "how long to wait for the machine API to answer");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: CreateFlags, c: Command) => {
    const s = createSession(c, deps);
    const opts = createOptions(f, s.progress);
    const provisioner = await deps.provisioner();
    const info = await provisioner.createMachine(opts).catch((err: unknown) => {
      throw toCliError(err, { what: `creating cluster "${f.name}"` });
    });
    s.print(renderOne(s.format, info, machineColumns));
  });
}

/** The provisioner's options for these flags. */
function createOptions(f: CreateFlags, progress: (step: string) => void): CreateOptions {
  const opts: CreateOptions = { name: f.name, provisioner: f.provisioner as ProvisionerName, onProgress: progress };
  if (f.config !== undefined) opts.configPath = resolve(f.config);
  if (f.waitTimeout !== undefined) opts.timeoutMs = parseDurationFlag("--wait-timeout", f.waitTimeout);
  return opts;
}
