// ApplyConfiguration: validate, decide the mode, persist, apply. A config
// that fails validation changes nothing; one apply runs at a time. In
// maintenance mode a config naming machine.install.disk may install kiln
// instead (install/triggers.ts): then it is neither saved nor applied here.
import type { MachineConfig } from "../config/schema.js";
import { diffConfig } from "../config/diff.js";
import { parseConfig } from "../config/parse.js";
import { ApiError, Code } from "../grpc/errors.js";
import type { ApplyMode, ApplyRequest, ApplyResult } from "./machine.js";

export interface Current {
  config: MachineConfig;
  yaml: string;
}

export interface ApplyDeps {
  current(): Current | undefined;
  /** Persists the YAML on STATE. */
  save(yaml: string): void;
  /** Applies next live (from prev; undefined prev = first config); returns warnings. */
  applyLive(next: Current, prev: Current | undefined): Promise<string[]>;
  reboot(): void;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[]): void;
  /** The first config on a machine that can install itself: the reply's details when it starts an install, else undefined; throws when refused. */
  install?(next: Current, req: ApplyRequest): Promise<string | undefined>;
}

/**
 * The apply handler, holding the apply lock and any pending try. A try is
 * applied live but not saved: STATE keeps the config it came from, so a
 * reboot or crash during the try boots that one. Another apply that saves
 * confirms the try; otherwise it is reverted when its time is up.
 */
export function createApplier(deps: ApplyDeps): (req: ApplyRequest) => Promise<ApplyResult> {
  let busy = false;
  // Each saving apply starts a new generation; a try's revert belongs to one and is dropped once it has passed.
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  const locked = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (busy) throw new ApiError(Code.FAILED_PRECONDITION, "another configuration is being applied; try again when it has finished");
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };
  const revert = (prev: Current, gen: number): void => {
    if (gen !== generation) return;
    if (busy) timer = setTimeout(() => revert(prev, gen), 100);
    else void locked(() => revertTry(deps, prev));
  };
  const confirm = () => {
    generation++;
    clearTimeout(timer);
  };
  return (req) =>
    locked(async () => {
      const out = await apply(deps, req, confirm);
      const gen = generation;
      if (out.tried) timer = setTimeout(() => revert(out.tried!, gen), req.tryTimeoutMs || 60_000);
      return out.result;
    });
}

/** One apply: parse, plan, then carry out the plan unless dry-run. */
async function apply(deps: ApplyDeps, req: ApplyRequest, confirm: () => void): Promise<{ result: ApplyResult; tried?: Current }> {
  const next = parse(deps, req.yaml);
  const prev = deps.current();
  if (req.mode === "try" && !prev) throw new ApiError(Code.FAILED_PRECONDITION, "--mode try needs a config to return to; apply the first config with another mode");
  const { changes, needsReboot } = diffConfig(prev?.config, next.config);
  const mode = resolveMode(req.mode, prev ? needsReboot : []);
  const base = { mode, warnings: next.warnings, changes, needsReboot: prev ? needsReboot : [] };
  const installing = !prev && deps.install ? await deps.install({ config: next.config, yaml: req.yaml }, req) : undefined;
  if (installing !== undefined) return { result: { ...base, mode: "reboot", details: installing } };
  if (req.dryRun) return { result: { ...base, details: `dry run: ${plan(mode, changes.length)}; nothing was changed` } };
  confirm();
  if (mode !== "try") deps.save(req.yaml);
  const warnings = mode === "staged" || mode === "reboot" ? [] : await deps.applyLive({ config: next.config, yaml: req.yaml }, prev);
  deps.configEvent(true, `applied (${mode})`, [], [...next.warnings, ...warnings]);
  if (mode === "reboot") deps.reboot();
  const result = { ...base, warnings: [...next.warnings, ...warnings], details: plan(mode, changes.length) };
  return mode === "try" && prev ? { result, tried: prev } : { result };
}

/** A try's time is up: the config it came from, live again (STATE still holds it). Runs under the apply lock. */
async function revertTry(deps: ApplyDeps, prev: Current): Promise<void> {
  try {
    const w = await deps.applyLive(prev, deps.current());
    deps.configEvent(true, "try timed out: reverted to the previous config", [], w);
  } catch (err) {
    deps.configEvent(false, `try timed out; revert failed: ${(err as Error).message}`, [(err as Error).message], []);
  }
}

/** Parses the YAML; every validation error goes back as INVALID_ARGUMENT. */
function parse(deps: ApplyDeps, yaml: string): { config: MachineConfig; warnings: string[] } {
  const parsed = parseConfig(yaml);
  if ("errors" in parsed) {
    deps.configEvent(false, "rejected: invalid config", parsed.errors, parsed.warnings);
    throw new ApiError(Code.INVALID_ARGUMENT, `the config is invalid; nothing was changed:\n${parsed.errors.join("\n")}`);
  }
  return parsed;
}

/** auto becomes no-reboot or reboot; no-reboot and try refuse changes that need a reboot. */
function resolveMode(mode: ApplyMode, needsReboot: string[]): ApplyMode {
  if (mode === "auto") return needsReboot.length ? "reboot" : "no-reboot";
  if ((mode === "no-reboot" || mode === "try") && needsReboot.length) {
    throw new ApiError(
      Code.FAILED_PRECONDITION,
      `these changes need a reboot: ${needsReboot.join(", ")}; apply with --mode reboot or --mode staged`,
    );
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

