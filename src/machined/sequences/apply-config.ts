// The applyConfig sequence: save, apply live, reboot — as the mode asks.
//   no-reboot  save → apply
//   try        apply (not saved: STATE keeps the config a reboot returns to)
//   staged     save (the next boot applies it)
//   reboot     save → reboot
import type { ApplyMode } from "../machine.js";
import { rebootRequest } from "./reboot-request.js";
import { type Phase, phase, task } from "./runner.js";

export interface ApplySteps {
  /** Persists the YAML on STATE. */
  save(): void;
  /** Applies the config live; the live apply's warnings. */
  applyLive(): Promise<string[]>;
  /** Publishes the outcome (after the last step that changes anything). */
  announce(warnings: string[]): void;
}

/** The phases for a mode that resolved (auto is decided before). */
export function applyConfigSequence(mode: Exclude<ApplyMode, "auto">, s: ApplySteps): Phase[] {
  const live = mode === "no-reboot" || mode === "try";
  return [
    ...(mode !== "try" ? [phase("save", task("saveConfig", () => s.save()))] : []),
    live ? phase("apply", task("applyLive", async () => s.announce(await s.applyLive()))) : phase("announce", task("announce", () => s.announce([]))),
    ...(mode === "reboot" ? [phase("reboot", task("requestReboot", () => rebootRequest("reboot", "the applied config needs a reboot")))] : []),
  ];
}

/** A try's time is up: the config it came from, live again. */
export function revertTrySequence(revert: () => Promise<void>): Phase[] {
  return [phase("apply", task("revertTry", revert))];
}
