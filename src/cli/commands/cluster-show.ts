// `kilnctl cluster show [NAME | --name NAME]`: a multi-node cluster's nodes
// (role, address, MAC, state), else the machines (all, or the named one).
import { Command } from "commander";
import { renderCluster } from "../cluster-view.js";
import type { CliDeps } from "../deps.js";
import { CliError, toCliError, usageError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { renderList } from "../output.js";
import { machineColumns } from "../machine-view.js";
import { createSession } from "../session.js";

/** `cluster show`: the named cluster's nodes, or every machine (or the named one; exit 3 when unknown), always as a list. */
export function createClusterShowCommand(deps: CliDeps): Command {
  const cmd = new Command("show")
    .description("list a cluster's nodes, or machines and their status")
    .argument("[name]", "the cluster or machine")
    .option("--name <name>", "only this cluster or machine");
  return addGlobalOptions(cmd, { connect: false }).action(async (arg: string | undefined, f: { name?: string }, c: Command) => {
    const s = createSession(c, deps);
    const name = nameOf(arg, f.name);
    const provisioner = await deps.provisioner();
    try {
      const [cluster] = name === undefined ? [] : provisioner.listClusters(name);
      if (cluster) return void s.print(renderCluster(s.format, cluster));
      const machines = await provisioner.listMachines(name);
      if (name !== undefined && machines.length === 0) throw new CliError(`cluster "${name}"`, "not found", ExitCode.notFound);
      s.print(renderList(s.format, machines, machineColumns));
    } catch (err) {
      throw toCliError(err, { what: "listing clusters" });
    }
  });
}

/** NAME or --name (not both, unless they agree). */
export function nameOf(arg: string | undefined, flag: string | undefined): string | undefined {
  if (arg !== undefined && flag !== undefined && arg !== flag) throw usageError("--name", `names "${flag}" but the argument names "${arg}": give one`);
  return arg ?? flag;
}
