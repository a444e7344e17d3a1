// `kilnctl config use-context NAME`: makes NAME the current context.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { editKilnconfig, selectContext } from "../kilnconfig-file.js";
import { renderOne } from "../output.js";
import { contextColumns, contextRecord, kilnconfigCommand, kilnconfigSession } from "./config-view.js";

/** `config use-context NAME`: prints the context now current. */
export function createConfigUseContextCommand(deps: CliDeps): Command {
  const cmd = new Command("use-context").description("make a context the current one").argument("<name>", "context name");
  return kilnconfigCommand(cmd).action(async (name: string, _o, c: Command) => {
    const s = kilnconfigSession(c, deps);
    const updated = await editKilnconfig(s.path, (config) => {
      selectContext(config, s.path, name);
      return { ...config, context: name };
    });
    s.print(renderOne(s.format, contextRecord(updated, name), contextColumns));
  });
}
