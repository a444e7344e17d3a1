// How kilnconfig contexts print, and the session config commands run with.
import type { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions, addKilnconfigOptions } from "../global-options.js";
import type { KilnConfig } from "../../config/kilnconfig.js";
import { locateKilnconfig } from "../kilnconfig-file.js";
import { createSession, type Session } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of a context (its certificates are not shown). */
export interface ContextRecord {
  name: string;
  current: boolean;
  endpoints: string[];
  nodes: string[];
}

export const contextColumns: Column<ContextRecord>[] = [
  { header: "CURRENT", value: (r) => (r.current ? "*" : "") },
  { header: "NAME", value: (r) => r.name },
  { header: "ENDPOINTS", value: (r) => r.endpoints.join(",") },
  { header: "NODES", value: (r) => r.nodes.join(",") },
];

/** The record of context `name` of `c`. */
export function contextRecord(c: KilnConfig, name: string): ContextRecord {
  const { endpoints, nodes } = c.contexts[name]!;
  return { name, current: c.context === name, endpoints, nodes };
}

/** A config subcommand with -o, --kilnconfig and --context. */
export function kilnconfigCommand(cmd: Command): Command {
  return addKilnconfigOptions(addGlobalOptions(cmd, { connect: false }));
}

/** A session, the kilnconfig's path and the --context given. */
export function kilnconfigSession(c: Command, deps: CliDeps): Session & { path: string; context: string | undefined } {
  const s = createSession(c, deps);
  return { ...s, path: locateKilnconfig(s.globals.kilnconfig, deps.io.env).path, context: s.globals.context };
}
