// ApplyConfiguration: validate, decide the mode, persist, apply. A config
// that fails validation changes nothing; one apply runs at a time.
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
}

/** The apply handler, holding the apply lock and any pending try-revert. */
export function createApplier(deps: ApplyDeps): (req: ApplyRequest) => Promise<ApplyResult> {
  let busy = false;
  let revert: NodeJS.Timeout | undefined;
  return async (req) => {
    if (busy) throw new ApiError(Code.FAILED_PRECONDITION, "another configuration is being applied; try again when it has finished");
    busy = true;
    try {
      // Only an apply that saves confirms (cancels) a pending try; a rejected or dry-run one does not.
      const out = await apply(deps, req, () => clearTimeout(revert));
      if (out.revertTo) revert = scheduleRevert(deps, out.revertTo, req.tryTimeoutMs);
      return out.result;
    } finally {
      busy = false;
    }
  };
}

/** One apply: parse, plan, then carry out the plan unless dry-run. */
async function apply(deps: ApplyDeps, req: ApplyRequest, confirm: () => void): Promise<{ result: ApplyResult; revertTo?: Current | undefined }> {
  const next = parse(deps, req.yaml);
  const prev = deps.current();
  const { changes, needsReboot } = diffConfig(prev?.config, next.config);
  const mode = resolveMode(req.mode, prev ? needsReboot : []);
  const base = { mode, warnings: next.warnings, changes, needsReboot: prev ? needsReboot : [] };
  if (req.dryRun) return { result: { ...base, details: `dry run: ${plan(mode, changes.length)}; nothing was changed` } };
  confirm();
  deps.save(req.yaml);
  const warnings = mode === "staged" || mode === "reboot" ? [] : await deps.applyLive({ config: next.config, yaml: req.yaml }, prev);
  deps.configEvent(true, `applied (${mode})`, [], [...next.warnings, ...warnings]);
  if (mode === "reboot") deps.reboot();
  const result = { ...base, warnings: [...next.warnings, ...warnings], details: plan(mode, changes.length) };
  return { result, revertTo: mode === "try" ? prev : undefined };
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
      return `applied ${what} live; they revert unless confirmed by another apply`;
    default:
      return `applied ${what} live`;
  }
}

/** After a try, reverts to prev unless another apply clears the timer first. */
function scheduleRevert(deps: ApplyDeps, prev: Current | undefined, timeoutMs: number): NodeJS.Timeout {
  return setTimeout(() => {
    if (!prev) return;
    const from = deps.current();
    deps.save(prev.yaml);
    void deps.applyLive(prev, from).then(
      (w) => deps.configEvent(true, "try timed out: reverted to the previous config", [], w),
      (err: Error) => deps.configEvent(false, `try timed out; revert failed: ${err.message}`, [err.message], []),
    );
  }, timeoutMs || 60_000);
}
