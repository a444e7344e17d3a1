// The options every command takes: -e/--endpoints, -o/--output, --timeout.
// They may come before the command (`kilnctl -o json services`) or after it
// (`kilnctl services -o json`); the later one wins.
import { type Command, Option } from "commander";
import { parseDurationFlag } from "./duration.js";
import { parseEndpoint } from "./endpoint.js";
import { usageError } from "./errors.js";
import { type Format, formats } from "./output.js";

/** Default deadline of a machine API call. */
export const defaultTimeoutMs = 30_000;

export interface Globals {
  format: Format;
  /** Undefined when neither -e nor KILN_ENDPOINT is set. */
  endpoint: string | undefined;
  /** 0: no deadline. */
  timeoutMs: number;
  /** --timeout as typed, for messages. */
  timeoutText: string;
}

/** Adds -o to a command, and -e and --timeout when it calls the machine API. */
export function addGlobalOptions(cmd: Command, opts: { connect: boolean; timeout?: boolean }): Command {
  cmd.addOption(new Option("-o, --output <format>", "output format: table, json or yaml").choices(formats));
  if (!opts.connect) return cmd;
  cmd.option("-e, --endpoints <endpoint>", "machine API endpoint, e.g. unix:///var/lib/kiln/sandboxes/a/machined.sock (env KILN_ENDPOINT)");
  if (opts.timeout !== false) cmd.option("--timeout <duration>", "deadline of each API call, e.g. 30s; 0 for none (default 30s)");
  return cmd;
}

/** Values of the global options for `cmd`: its own over its parents', then the environment, then defaults. */
export function resolveGlobals(cmd: Command, env: Record<string, string | undefined>, skipOwn: string[] = []): Globals {
  const opt = (key: string) => lookup(cmd, key, skipOwn);
  const endpointText = opt("endpoints") ?? env.KILN_ENDPOINT;
  const timeoutText = opt("timeout") ?? "30s";
  return {
    format: (opt("output") ?? "table") as Format,
    endpoint: endpointText ? parseEndpoint(endpointText) : undefined,
    timeoutMs: parseDurationFlag("--timeout", timeoutText),
    timeoutText,
  };
}

/** The endpoint, or a usage error saying how to give one. */
export function requireEndpoint(g: Globals): string {
  if (g.endpoint) return g.endpoint;
  throw usageError("--endpoints", "no machine API endpoint: pass -e unix:///path/to/machined.sock or set KILN_ENDPOINT");
}

/** The nearest value of an option, from `cmd` up to the program. */
function lookup(cmd: Command, key: string, skipOwn: string[]): string | undefined {
  for (let c: Command | null = cmd; c; c = c.parent) {
    if (c === cmd && skipOwn.includes(key)) continue;
    const v = c.opts()[key];
    if (typeof v === "string") return v;
  }
  return undefined;
}
