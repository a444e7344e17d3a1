// `kilnctl config endpoint E...` and `kilnctl config node N...`: replace the
// endpoints (stored as HOST:PORT or unix:///path) or nodes of the current
// context (or --context), atomically.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { parseEndpoints } from "../endpoint.js";
import { parseNodes } from "../global-options.js";
import type { KilnContext } from "../../config/kilnconfig.js";
import { editKilnconfig, selectContext } from "../kilnconfig-file.js";
import { renderOne } from "../output.js";
import { contextColumns, contextRecord, kilnconfigCommand, kilnconfigSession } from "./config-view.js";

/** `config endpoint [E...]`: sets the context's endpoints (none: clears them). */
export function createConfigEndpointCommand(deps: CliDeps): Command {
  const cmd = new Command("endpoint")
    .description("set the endpoints of the current context")
    .argument("[endpoints...]", "HOST[:PORT] (port 50000) or unix:///path; none to clear");
  return kilnconfigCommand(cmd).action((args: string[], _o, c: Command) =>
    editContext(c, deps, (ctx) => ({ ...ctx, endpoints: args.flatMap((a) => parseEndpoints(a, "endpoint").map((e) => e.text)) })),
  );
}

/** `config node [N...]`: sets the context's target nodes (none: clears them). */
export function createConfigNodeCommand(deps: CliDeps): Command {
  const cmd = new Command("node").description("set the target nodes of the current context").argument("[nodes...]", "node names or addresses; none to clear");
  return kilnconfigCommand(cmd).action((args: string[], _o, c: Command) =>
    editContext(c, deps, (ctx) => ({ ...ctx, nodes: args.flatMap((a) => parseNodes(a, "node")) })),
  );
}

/** Applies `change` to the selected context and prints it. */
async function editContext(c: Command, deps: CliDeps, change: (ctx: KilnContext) => KilnContext): Promise<void> {
  const s = kilnconfigSession(c, deps);
  let name = "";
  const updated = await editKilnconfig(s.path, (config) => {
    const selected = selectContext(config, s.path, s.context);
    name = selected.name;
    return { ...config, contexts: { ...config.contexts, [name]: change(selected.context) } };
  });
  s.print(renderOne(s.format, contextRecord(updated, name), contextColumns));
}
