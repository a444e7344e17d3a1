// `kilnctl cluster destroy NAME | --name NAME`: a multi-node cluster (its
// VMs, dnsmasq, taps, bridge and state, whatever is left of them) or one
// machine.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { CliError, toCliError, usageError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { createSession } from "../session.js";
import type { Column } from "../table.js";
import { nameOf } from "./cluster-show.js";

/** The JSON/YAML shape of `cluster destroy`. */
export interface DestroyRecord {
  name: string;
  destroyed: boolean;
}

const columns: Column<DestroyRecord>[] = [
  { header: "NAME", value: (r) => r.name },
  { header: "STATUS", value: () => "destroyed" },
];

/** `cluster destroy`: stops the cluster or machine and removes its state; exit 3 when nothing of that name is left. */
export function createClusterDestroyCommand(deps: CliDeps): Command {
  const cmd = new Command("destroy")
    .description("stop a cluster or machine and remove its state")
    .argument("[name]", "the cluster or machine")
    .option("--name <name>", "the cluster or machine");
  return addGlobalOptions(cmd, { connect: false }).action(async (arg: string | undefined, f: { name?: string }, c: Command) => {
    const s = createSession(c, deps);
    const name = nameOf(arg, f.name);
    if (name === undefined) throw usageError("cluster destroy", "name the cluster or machine: kilnctl cluster destroy NAME");
    const what = `cluster "${name}"`;
    const provisioner = await deps.provisioner();
    try {
      // a cluster's leftovers (links named after it) count even without its state
      if (!(await provisioner.destroyCluster(name))) {
        if ((await provisioner.listMachines(name)).length === 0) throw new CliError(what, "not found", ExitCode.notFound);
        await provisioner.destroyMachine(name);
      }
    } catch (err) {
      throw toCliError(err, { what: `destroying ${what}` });
    }
    s.print(renderOne(s.format, { name, destroyed: true }, columns));
  });
}
