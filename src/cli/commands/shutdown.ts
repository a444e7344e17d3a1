// `kilnctl shutdown [--force]`.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import { printPower } from "./reboot.js";

/** `shutdown`: returns once the machine has started its shutdown sequence. */
export function createShutdownCommand(deps: CliDeps): Command {
  const cmd = new Command("shutdown").description("power the machine off").option("--force", "skip the graceful stop of services");
  return addGlobalOptions(cmd, { connect: true }).action((o: { force?: boolean }, c: Command) =>
    withMachine(c, deps, "shutting down", async (m) => {
      const res = await m.client.shutdown({ force: o.force === true }, m.call);
      const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), action: "shutdown", mode: "", force: o.force === true }));
      printPower(m, records);
    }),
  );
}
