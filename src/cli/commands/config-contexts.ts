// `kilnctl config contexts`: every context of the kilnconfig, the current one marked.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { loadKilnconfig } from "../kilnconfig-file.js";
import { renderList } from "../output.js";
import { contextColumns, contextRecord, kilnconfigCommand, kilnconfigSession } from "./config-view.js";

/** `config contexts`: a list of contexts. */
export function createConfigContextsCommand(deps: CliDeps): Command {
  const cmd = new Command("contexts").description("list the kilnconfig's contexts");
  return kilnconfigCommand(cmd).action(async (_o, c: Command) => {
    const s = kilnconfigSession(c, deps);
    const config = await loadKilnconfig(s.path);
    const records = Object.keys(config.contexts).map((name) => contextRecord(config, name));
    s.print(renderList(s.format, records, contextColumns));
  });
}
