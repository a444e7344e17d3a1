// The options every command takes: -o/--output; and for commands that call
// the machine, -e/--endpoints, -n/--nodes, --kilnconfig, --context,
// --insecure, --cert-fingerprint and --timeout. They may come before the
// command (`kilnctl -o json services`) or after it (`kilnctl services -o
// json`); the later one wins.
import { type Command, Option } from "commander";
import { parseFingerprint } from "../pki/fingerprint.js";
import { parseDurationFlag } from "./duration.js";
import { type Endpoint, parseEndpoints } from "./endpoint.js";
import { usageError } from "./errors.js";
import { type Format, formats } from "./output.js";

/** Default deadline of a machine API call. */
export const defaultTimeoutMs = 30_000;

export interface Globals {
  format: Format;
  /** From -e, else KILN_ENDPOINT; undefined when neither is set (the kilnconfig context's are used). */
  endpoints: Endpoint[] | undefined;
  /** From -n; undefined when not given (the kilnconfig context's are used). */
  nodes: string[] | undefined;
  /** --kilnconfig as typed. */
  kilnconfig: string | undefined;
  /** --context: the kilnconfig context to use instead of the current one. */
  context: string | undefined;
  /** --insecure: TLS without a client certificate, server unverified (maintenance mode). */
  insecure: boolean;
  /** --cert-fingerprint, normalised: the server certificate pinned in insecure mode. */
  certFingerprint: string | undefined;
  /** 0: no deadline. */
  timeoutMs: number;
  /** --timeout as typed, for messages. */
  timeoutText: string;
}

/** Adds -o to a command, and the connection options and --timeout when it calls the machine API. */
export function addGlobalOptions(cmd: Command, opts: { connect: boolean; timeout?: boolean }): Command {
  cmd.addOption(new Option("-o, --output <format>", "output format: table, json or yaml").choices(formats));
  if (!opts.connect) return cmd;
  cmd.option("-e, --endpoints <endpoints>", "apid endpoints HOST[:PORT],… (port 50000) or unix:///path/to/machined.sock (env KILN_ENDPOINT; default: the context's)");
  cmd.option("-n, --nodes <nodes>", "target nodes n1,n2,…, reached through the endpoint (default: the context's)");
  addKilnconfigOptions(cmd);
  cmd.option("--insecure", "TLS without client certificate or server verification (maintenance mode)");
  cmd.option("--cert-fingerprint <sha256>", "with --insecure: refuse a server whose certificate has another SHA-256 fingerprint");
  if (opts.timeout !== false) cmd.option("--timeout <duration>", "deadline of each API call, e.g. 30s; 0 for none (default 30s)");
  return cmd;
}

/** Adds --kilnconfig and --context: which client config file and which context in it. */
export function addKilnconfigOptions(cmd: Command): Command {
  cmd.option("--kilnconfig <file>", "client config (env KILNCONFIG; default ~/.kiln/config)");
  cmd.option("--context <name>", "kilnconfig context to use (default: its current context)");
  return cmd;
}

/** Values of the global options for `cmd`: its own over its parents', then the environment, then defaults. */
export function resolveGlobals(cmd: Command, env: Record<string, string | undefined>, skipOwn: string[] = []): Globals {
  const opt = (key: string) => {
    const v = lookup(cmd, key, skipOwn);
    return typeof v === "string" ? v : undefined;
  };
  const endpointText = opt("endpoints") ?? env.KILN_ENDPOINT;
  const nodesText = opt("nodes");
  const timeoutText = opt("timeout") ?? "30s";
  const insecure = lookup(cmd, "insecure", skipOwn) === true;
  return {
    format: (opt("output") ?? "table") as Format,
    endpoints: endpointText ? parseEndpoints(endpointText) : undefined,
    nodes: nodesText === undefined ? undefined : parseNodes(nodesText),
    kilnconfig: opt("kilnconfig"),
    context: opt("context"),
    insecure,
    certFingerprint: certFingerprintFlag(opt("certFingerprint"), insecure),
    timeoutMs: parseDurationFlag("--timeout", timeoutText),
    timeoutText,
  };
}

/** The nodes in "n1,n2": names or addresses, no spaces inside. */
export function parseNodes(text: string, flag = "--nodes"): string[] {
  const nodes = text.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = nodes.find((n) => /\s/.test(n));
  if (nodes.length === 0 || bad !== undefined) throw usageError(flag, `expected node names or addresses such as 10.0.0.2,10.0.0.3, got "${text}"`);
  return nodes;
}

/** --cert-fingerprint normalised; it only makes sense with --insecure. */
function certFingerprintFlag(text: string | undefined, insecure: boolean): string | undefined {
  if (text === undefined) return undefined;
  if (!insecure) throw usageError("--cert-fingerprint", "applies only with --insecure");
  const parsed = parseFingerprint(text);
  if ("error" in parsed) throw usageError("--cert-fingerprint", parsed.error);
  return parsed.value;
}

/** The nearest value of an option, from `cmd` up to the program. */
function lookup(cmd: Command, key: string, skipOwn: string[]): string | true | undefined {
  for (let c: Command | null = cmd; c; c = c.parent) {
    if (c === cmd && skipOwn.includes(key)) continue;
    const v = c.opts()[key];
    if (typeof v === "string" || v === true) return v;
  }
  return undefined;
}
