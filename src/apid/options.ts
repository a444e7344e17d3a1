// apid's command line. machined starts it (src/services/apid.ts); the
// defaults are the machine's paths.
import { parseArgs } from "node:util";
import type { Mode } from "./admission.js";
import { apidPort } from "../machinery/apid.js";
import { apidFiles } from "../machinery/paths.js";

export interface ApidArgs {
  mode: Mode;
  /** Each entry: alternatives tried in turn (see ApidOptions.listen). */
  listen: string[][];
  tlsDir: string;
  machinedSocket: string;
  /** The trust port's listen addresses (a control plane's); absent: no trust port. */
  trustListen?: string[][];
  /** machined writes the TLS directory as apid starts: read it once its `complete` file holds this. Absent: read it at once. */
  tlsStamp?: string;
}

/** Where machined puts apid's files. */
export const apidDefaults = apidFiles;

export const usage = "usage: apid [--maintenance] [--port N | --listen HOST:PORT...] [--trust-port N] [--tls-dir DIR [--tls-stamp STAMP]] [--machined-socket PATH]";

/** Parses apid's arguments; errors are values. */
export function parseApidArgs(argv: string[]): { value: ApidArgs } | { error: string } {
  const parsed = parseFlags(argv);
  if ("error" in parsed) return { error: `${parsed.error}\n${usage}` };
  const v = parsed.value;
  const port = portNumber("--port", v.port);
  if (typeof port === "string") return { error: port };
  const trustPort = v["trust-port"] === undefined ? undefined : portNumber("--trust-port", v["trust-port"]);
  if (typeof trustPort === "string") return { error: trustPort };
  if (trustPort !== undefined && v.maintenance) return { error: `--trust-port needs mTLS mode: a machine in maintenance mode has no certificate to serve it with\n${usage}` };
  const listen = v.listen?.map((a) => [a]) ?? [dualStack(port)];
  const trust = trustPort === undefined ? {} : { trustListen: [dualStack(trustPort)] };
  const stamp = v["tls-stamp"] === undefined ? {} : { tlsStamp: v["tls-stamp"] };
  return { value: { mode: v.maintenance ? "maintenance" : "mtls", listen, tlsDir: v["tls-dir"], machinedSocket: v["machined-socket"], ...trust, ...stamp } };
}

/** A port number from a flag's value, or the error naming the flag. */
function portNumber(flag: string, value: string): number | string {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) return `Expected \`${flag}\` to be a port number (0-65535), got \`${value}\`\n${usage}`;
  return port;
}

/** Dual-stack where IPv6 is on; IPv4 alone where it is not. */
function dualStack(port: number): string[] {
  return [`[::]:${port}`, `0.0.0.0:${port}`];
}

/** node:util's parser over apid's flags; unknown flags are errors. */
function parseFlags(argv: string[]) {
  const options = {
    maintenance: { type: "boolean", default: false },
    port: { type: "string", default: String(apidPort) },
    listen: { type: "string", multiple: true },
    "trust-port": { type: "string" },
    "tls-dir": { type: "string", default: apidDefaults.tlsDir },
    "tls-stamp": { type: "string" },
    "machined-socket": { type: "string", default: apidDefaults.machinedSocket },
  } as const;
  try {
    return { value: parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
