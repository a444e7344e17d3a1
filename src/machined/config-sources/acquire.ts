// Asks every source and judges, in order, what the first one found: a valid
// config wins; an invalid one stops the search, so that an operator sees
// their mistake instead of a later source silently replacing it.
import { parseConfig } from "../../config/parse.js";
import type { MachineConfig } from "../../config/schema.js";
import { type ConfigSource, none, reason, type SourceResult, unlessAborted } from "./source.js";

export type Acquired =
  | { t: "found"; source: string; origin: string; yaml: string; config: MachineConfig; warnings: string[] }
  | { t: "invalid"; source: string; origin: string; errors: string[]; warnings: string[] }
  | { t: "none" };

export interface AcquireReport {
  log(line: string): void;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[], source: string): void;
}

/**
 * The first config any source finds, each attempt logged and published. The
 * sources look all at once (under emulation a probe of the block devices or
 * a read of fw_cfg costs a second, and each waited for the one before), but
 * are judged, logged and published in order: what a later source says is
 * held back until every earlier one has found nothing, and once one finds a
 * document the others are stopped and stay silent.
 */
export async function acquireConfig(sources: ConfigSource[], r: AcquireReport, signal?: AbortSignal): Promise<Acquired> {
  signal?.throwIfAborted();
  const others = new AbortController();
  const stop = () => others.abort(signal?.reason);
  signal?.addEventListener("abort", stop, { once: true });
  const looks = sources.map((s) => {
    const held: string[] = [];
    const look = { source: s, held, live: false, result: undefined as Promise<SourceResult> | undefined };
    const note = (message: string) => (look.live ? say(r, s.name, message) : held.push(message));
    look.result = s.fetch(note, others.signal).catch((err: unknown) => none(`failed: ${reason(err)}`));
    return look;
  });
  try {
    for (const look of looks) {
      const s = look.source;
      for (const m of look.held.splice(0)) say(r, s.name, m);
      look.live = true;
      // Preempted (a reboot or shutdown): stop looking at once.
      const got = await unlessAborted(look.result!, signal);
      if (got.t === "none") {
        say(r, s.name, got.why);
        continue;
      }
      return judge(r, s.name, got);
    }
    return { t: "none" };
  } finally {
    signal?.removeEventListener("abort", stop);
    others.abort(new Error("another source decided"));
  }
}

/** One source's progress, on the console and as an event. */
function say(r: AcquireReport, source: string, message: string): void {
  r.log(`config: ${source}: ${message}`);
  r.configEvent(false, message, [], [], source);
}

/** A document a source found: valid, it wins; invalid, it stops the search. */
function judge(r: AcquireReport, source: string, got: Extract<SourceResult, { t: "found" }>): Acquired {
  const parsed = parseConfig(got.yaml);
  for (const w of parsed.warnings) r.log(`config: ${source}: warning: ${w}`);
  if ("errors" in parsed) {
    const message = `${got.origin} is invalid; staying in maintenance mode`;
    r.log(`config: ${source}: ${message}:${parsed.errors.map((e) => `\n  ${e}`).join("")}`);
    r.configEvent(false, message, parsed.errors, parsed.warnings, source);
    return { t: "invalid", source, origin: got.origin, errors: parsed.errors, warnings: parsed.warnings };
  }
  r.log(`config: ${source}: found ${got.origin}`);
  return { t: "found", source, origin: got.origin, yaml: got.yaml, config: parsed.config, warnings: parsed.warnings };
}
