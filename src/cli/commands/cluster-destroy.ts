// `kilnctl cluster destroy --name NAME`.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { CliError, toCliError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { createSession } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `cluster destroy`. */
export interface DestroyRecord {
  name: string;
  destroyed: boolean;
}

const columns: Column<DestroyRecord>[] = [
  { header: "NAME", value: (r) => r.name },
  { header: "STATUS", value: () => "destroyed" },
];

/** `cluster destroy`: stops the machine and removes its state; exit 3 for an unknown name. */
export function createClusterDestroyCommand(deps: CliDeps): Command {
  const cmd = new Command("destroy").description("stop a machine and remove its state").requiredOption("--name <name>", "machine name");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: { name: string }, c: Command) => {
    const s = createSession(c, deps);
    const what = `cluster "${f.name}"`;
    const provisioner = await deps.provisioner();
    try {
      if ((await provisioner.listMachines(f.name)).length === 0) throw new CliError(what, "not found", ExitCode.notFound);
      await provisioner.destroyMachine(f.name);
    } catch (err) {
      throw toCliError(err, { what: `destroying ${what}` });
    }
    s.print(renderOne(s.format, { name: f.name, destroyed: true }, columns));
  });
}
