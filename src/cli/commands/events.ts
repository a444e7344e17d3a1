// `kilnctl events [-f] [--tail N] [--since-id N]`: machine events, one JSON
// object a line (JSON Lines), one YAML document each, or table rows.
import { Command } from "commander";
import { parseCount } from "../counts.js";
import type { CliDeps } from "../deps.js";
import { eventColumns, eventRecord } from "../event-view.js";
import { addGlobalOptions } from "../global-options.js";
import { createStreamPrinter } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";

interface EventsOptions {
  follow?: boolean;
  tail?: string;
  sinceId?: string;
}

/** `events`: the buffered events (all, the last N, or those after an id), then with -f new ones. */
export function createEventsCommand(deps: CliDeps): Command {
  const cmd = new Command("events")
    .description("show machine events")
    .option("-f, --follow", "keep printing new events until Ctrl-C")
    .option("--tail <n>", "print only the last N buffered events first (default: all)")
    .option("--since-id <id>", "print only events after this id (overrides --tail)");
  return addGlobalOptions(cmd, { connect: true }).action((o: EventsOptions, c: Command) => {
    const req = {
      tailEvents: o.tail === undefined ? -1 : parseCount("--tail", o.tail),
      sinceId: o.sinceId === undefined ? 0n : BigInt(parseCount("--since-id", o.sinceId)),
      follow: o.follow === true,
    };
    return withMachine(c, deps, "watching events", (m) => streamEvents(m, req));
  });
}

/** Prints each event as it arrives. */
async function streamEvents(m: MachineSession, req: { tailEvents: number; sinceId: bigint; follow: boolean }): Promise<void> {
  const print = createStreamPrinter(m.format, eventColumns);
  await m.untilInterrupted(async (signal) => {
    const opts = req.follow ? { signal } : { ...m.call, signal };
    for await (const e of m.client.events(req, opts)) m.print(print(eventRecord(e)));
  });
}
