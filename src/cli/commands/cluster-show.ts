// `kilnctl cluster show [--name NAME]`.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { CliError, toCliError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { renderList } from "../output.js";
import { machineColumns } from "../machine-view.js";
import { createSession } from "../session.js";

/** `cluster show`: every machine, or the named one (exit 3 when unknown), always as a list. */
export function createClusterShowCommand(deps: CliDeps): Command {
  const cmd = new Command("show").description("list machines and their status").option("--name <name>", "only this machine");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: { name?: string }, c: Command) => {
    const s = createSession(c, deps);
    const provisioner = await deps.provisioner();
    const machines = await provisioner.listMachines(f.name).catch((err: unknown) => {
      throw toCliError(err, { what: "listing clusters" });
    });
    if (f.name !== undefined && machines.length === 0) throw new CliError(`cluster "${f.name}"`, "not found", ExitCode.notFound);
    s.print(renderList(s.format, machines, machineColumns));
  });
}
