// The reset sequence: forget the config (STATE's files without a partition
// are emptied now), then power down; partitions are wiped by the power-down
// once they are unmounted.
import type { ResetPlan } from "../reset.js";
import { rebootRequest } from "./reboot-request.js";
import { type Phase, phase, task } from "./runner.js";

export interface ResetSteps {
  /** Empties directories and forgets the config in memory. */
  forget(): void;
  /** Wipes the partitions (runs after the unmount, before reboot(2)). */
  wipe(): Promise<void> | void;
}

export function resetSequence(p: ResetPlan, s: ResetSteps): Phase[] {
  return [
    phase("forget", task("forgetConfig", () => s.forget())),
    phase("power", task(p.action === "reboot" ? "requestReboot" : "requestPoweroff", () => rebootRequest(p.action, `reset: wiping ${p.targets.join(", ")}`, { force: p.force, mode: "powercycle", beforeReboot: s.wipe }))),
  ];
}
