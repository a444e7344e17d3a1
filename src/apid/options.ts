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
}

/** Where machined puts apid's files. */
export const apidDefaults = apidFiles;

export const usage = "usage: apid [--maintenance] [--port N | --listen HOST:PORT...] [--tls-dir DIR] [--machined-socket PATH]";

/** Parses apid's arguments; errors are values. */
export function parseApidArgs(argv: string[]): { value: ApidArgs } | { error: string } {
  const parsed = parseFlags(argv);
  if ("error" in parsed) return { error: `${parsed.error}\n${usage}` };
  const v = parsed.value;
  const port = Number(v.port);
  if (!/^\d+$/.test(v.port) || port > 65535) return { error: `Expected \`--port\` to be a port number (0-65535), got \`${v.port}\`\n${usage}` };
  // Dual-stack where IPv6 is on; IPv4 alone where it is not.
  const listen = v.listen?.map((a) => [a]) ?? [[`[::]:${port}`, `0.0.0.0:${port}`]];
  return { value: { mode: v.maintenance ? "maintenance" : "mtls", listen, tlsDir: v["tls-dir"], machinedSocket: v["machined-socket"] } };
}

/** node:util's parser over apid's flags; unknown flags are errors. */
function parseFlags(argv: string[]) {
  const options = {
    maintenance: { type: "boolean", default: false },
    port: { type: "string", default: String(apidPort) },
    listen: { type: "string", multiple: true },
    "tls-dir": { type: "string", default: apidDefaults.tlsDir },
    "machined-socket": { type: "string", default: apidDefaults.machinedSocket },
  } as const;
  try {
    return { value: parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
