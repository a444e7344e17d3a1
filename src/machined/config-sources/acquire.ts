// Tries the sources in order and judges what the first one found: a valid
// config wins; an invalid one stops the search, so that an operator sees
// their mistake instead of a later source silently replacing it.
import { parseConfig } from "../../config/parse.js";
import type { MachineConfig } from "../../config/schema.js";
import { type ConfigSource, none, reason } from "./source.js";

export type Acquired =
  | { t: "found"; source: string; origin: string; yaml: string; config: MachineConfig; warnings: string[] }
  | { t: "invalid"; source: string; origin: string; errors: string[]; warnings: string[] }
  | { t: "none" };

export interface AcquireReport {
  log(line: string): void;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[], source: string): void;
}

/** The first config any source finds, each attempt logged and published. */
export async function acquireConfig(sources: ConfigSource[], r: AcquireReport, signal?: AbortSignal): Promise<Acquired> {
  for (const s of sources) {
    signal?.throwIfAborted();
    const note = (message: string) => {
      r.log(`config: ${s.name}: ${message}`);
      r.configEvent(false, message, [], [], s.name);
    };
    const got = await s.fetch(note, signal).catch((err: unknown) => {
      // Preempted (a reboot or shutdown): stop looking at once.
      if (signal?.aborted) throw signal.reason;
      return none(`failed: ${reason(err)}`);
    });
    if (got.t === "none") {
      note(got.why);
      continue;
    }
    const parsed = parseConfig(got.yaml);
    for (const w of parsed.warnings) r.log(`config: ${s.name}: warning: ${w}`);
    if ("errors" in parsed) {
      const message = `${got.origin} is invalid; staying in maintenance mode`;
      r.log(`config: ${s.name}: ${message}:${parsed.errors.map((e) => `\n  ${e}`).join("")}`);
      r.configEvent(false, message, parsed.errors, parsed.warnings, s.name);
      return { t: "invalid", source: s.name, origin: got.origin, errors: parsed.errors, warnings: parsed.warnings };
    }
    r.log(`config: ${s.name}: found ${got.origin}`);
    return { t: "found", source: s.name, origin: got.origin, yaml: got.yaml, config: parsed.config, warnings: parsed.warnings };
  }
  return { t: "none" };
}
