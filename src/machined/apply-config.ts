// ApplyConfiguration: validate, decide the mode, then run the applyConfig
// sequence under the machine's one lock (sequences/apply-config.ts). A config
// that fails validation changes nothing, and neither does a request refused
// because another sequence runs. The call waits for the live apply (its reply
// carries the warnings); a reboot then goes on in the background. In
// maintenance mode a config naming machine.install.disk may start the
// install sequence instead (install/triggers.ts).
import type { MachineConfig } from "../config/schema.js";
import { diffConfig } from "../config/diff.js";
import { type ParseResult, parseConfig } from "../config/parse.js";
import { invalid, refused } from "./errors.js";
import type { ApplyMode, ApplyRequest, ApplyResult } from "./machine.js";
import { applyConfigSequence, revertTrySequence } from "./sequences/apply-config.js";
import type { Phase, SequenceRunner } from "./sequences/runner.js";

export interface Current {
  config: MachineConfig;
  yaml: string;
}

/** An install the first config asks for: the reply's words, and the sequence to run (none on a dry run). */
export interface InstallStart {
  details: string;
  phases?: Phase[];
  label: string;
}

export interface ApplyDeps {
  current(): Current | undefined;
  /** Persists the YAML on STATE. */
  save(yaml: string): void;
  /** Applies next live (from prev; undefined prev = first config); returns warnings. */
  applyLive(next: Current, prev: Current | undefined): Promise<string[]>;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[]): void;
  runner: Pick<SequenceRunner, "start">;
  /** The first config on a machine that can install itself: the install to start, undefined when none; throws when refused. */
  install?(next: Current, req: ApplyRequest): Promise<InstallStart | undefined>;
  /** How long a try waits for its revert to get the lock again. Default 1000 ms. */
  retryMs?: number;
  /** Parses a caller's YAML: machined's runs in a worker thread (config-parser.ts); default parseConfig, on this thread. */
  parseConfig?(text: string): Promise<ParseResult>;
}

/**
 * The apply handler, holding any pending try. A try is applied live but not
 * saved: STATE keeps the config it came from, so a reboot or crash during
 * the try boots that one. Another apply that saves confirms the try;
 * otherwise it is reverted when its time is up.
 */
export function createApplier(deps: ApplyDeps): (req: ApplyRequest) => Promise<ApplyResult> {
  // Each saving apply starts a new generation; a try's revert belongs to one and is dropped once it has passed.
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  const revert = (prev: Current, gen: number): void => {
    if (gen !== generation) return;
    try {
      deps.runner.start("applyConfig", revertTrySequence(() => revertTry(deps, prev)), { label: "the revert of a try" });
    } catch {
      timer = setTimeout(() => revert(prev, gen), deps.retryMs ?? 1000);
    }
  };
  const confirm = () => {
    generation++;
    clearTimeout(timer);
  };
  return async (req) => {
    const out = await apply(deps, req, confirm);
    const gen = generation;
    if (out.tried) timer = setTimeout(() => revert(out.tried!, gen), req.tryTimeoutMs || 60_000);
    return out.result;
  };
}

/** One apply: parse, plan, then run the sequence unless dry-run. */
async function apply(deps: ApplyDeps, req: ApplyRequest, confirm: () => void): Promise<{ result: ApplyResult; tried?: Current }> {
  finalOnceConfigured(deps, req);
  const next = await parse(deps, req);
  const installing = !deps.current() && deps.install ? await deps.install({ config: next.config, yaml: req.yaml }, req) : undefined;
  const prev = deps.current();
  if (req.mode === "try" && !prev) throw refused("--mode try needs a config to return to; apply the first config with another mode");
  const { changes, needsReboot } = diffConfig(prev?.config, next.config);
  const mode = resolveMode(req.mode, prev ? needsReboot : []);
  const base = { mode, warnings: next.warnings, changes, needsReboot: prev ? needsReboot : [] };
  if (installing) {
    if (installing.phases) deps.runner.start("install", installing.phases, { label: installing.label });
    return { result: { ...base, mode: "reboot", details: installing.details } };
  }
  if (req.dryRun) return { result: { ...base, details: `dry run: ${plan(mode, changes.length)}; nothing was changed` } };
  finalOnceConfigured(deps, req);
  const current: Current = { config: next.config, yaml: req.yaml };
  const live: string[] = [];
  const phases = applyConfigSequence(mode, {
    save: () => {
      confirm();
      deps.save(req.yaml);
    },
    applyLive: () => {
      if (mode === "try") confirm();
      return deps.applyLive(current, prev);
    },
    announce: (warnings) => {
      live.push(...warnings);
      deps.configEvent(true, `applied (${mode})`, [], [...next.warnings, ...live]);
    },
  });
  await deps.runner.start("applyConfig", phases, { label: `apply-config (${mode})` }).done;
  const result = { ...base, warnings: [...next.warnings, ...live], details: plan(mode, changes.length) };
  return mode === "try" && prev ? { result, tried: prev } : { result };
}

/** A try's time is up: the config it came from, live again (STATE still holds it). */
async function revertTry(deps: ApplyDeps, prev: Current): Promise<void> {
  try {
    const w = await deps.applyLive(prev, deps.current());
    deps.configEvent(true, "try timed out: reverted to the previous config", [], w);
  } catch (err) {
    deps.configEvent(false, `try timed out; revert failed: ${(err as Error).message}`, [(err as Error).message], []);
  }
}

/**
 * The first config is final for maintenance mode: once a config exists, an
 * apply that came through it (no client certificate) is refused, however
 * late the maintenance listener was still answering.
 */
function finalOnceConfigured(deps: ApplyDeps, req: ApplyRequest): void {
  if (req.maintenance && deps.current()) {
    throw refused("the machine is configured: maintenance mode no longer applies configs; connect with mTLS (a kilnconfig signed by the machine CA)");
  }
}

/** Parses the YAML; every validation error goes back as invalid (an event too, unless a dry run). */
async function parse(deps: ApplyDeps, req: ApplyRequest): Promise<{ config: MachineConfig; warnings: string[] }> {
  const parsed = deps.parseConfig ? await deps.parseConfig(req.yaml) : parseConfig(req.yaml);
  if ("errors" in parsed) {
    if (!req.dryRun) deps.configEvent(false, "rejected: invalid config", parsed.errors, parsed.warnings);
    throw invalid(`the config is invalid; nothing was changed:\n${parsed.errors.join("\n")}`);
  }
  return parsed;
}

/** auto becomes no-reboot or reboot; no-reboot and try refuse changes that need a reboot. */
function resolveMode(mode: ApplyMode, needsReboot: string[]): Exclude<ApplyMode, "auto"> {
  if (mode === "auto") return needsReboot.length ? "reboot" : "no-reboot";
  if ((mode === "no-reboot" || mode === "try") && needsReboot.length) {
    throw refused(`these changes need a reboot: ${needsReboot.join(", ")}; apply with --mode reboot or --mode staged`);
  }
  return mode;
}

/** What a mode does, in words. */
function plan(mode: ApplyMode, changes: number): string {
  const what = `${changes} change${changes === 1 ? "" : "s"}`;
  switch (mode) {
    case "staged":
      return `staged ${what}: they take effect at the next boot`;
    case "reboot":
      return `saved ${what}; rebooting to apply them`;
    case "try":
      return `applied ${what} live, not saved; they revert unless confirmed by another apply`;
    default:
      return `applied ${what} live`;
  }
}
