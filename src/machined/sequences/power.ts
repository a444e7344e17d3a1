// The reboot and shutdown sequences: one task that asks for the power
// action; the runner carries it out (power.ts) under the lock.
import type { RebootMode } from "../machine.js";
import type { PowerAction } from "../power.js";
import { rebootRequest } from "./reboot-request.js";
import { type Phase, phase, task } from "./runner.js";

/** reboot (`mode`) or poweroff, `why` in words (the API, a signal, a failed trial). */
export function powerSequence(action: PowerAction, why: string, o: { mode?: RebootMode; force?: boolean } = {}): Phase[] {
  return [phase("request", task(action === "reboot" ? "requestReboot" : "requestPoweroff", () => rebootRequest(action, why, o)))];
}
