// Reboot and shutdown, handled in one place: stop services, end every other
// process, unmount, sync, then reboot(2). On the sandbox platform reboot(2)
// ends our PID namespace and its parent sees how (SIGHUP: restart, SIGINT:
// power off); on metal it does not return.
import { killAll } from "../init/kill-all.js";
import { unmountAll } from "../init/unmount.js";
import { RB, type Sys } from "../sys/sys.js";
import type { EventBus } from "./events.js";

export type PowerAction = "reboot" | "poweroff";

export interface PowerDeps {
  sys: Sys;
  events: EventBus;
  /** Stops every service gracefully (bounded by their grace periods). */
  stopServices(): Promise<void>;
  /** Closes the machine API (last, so clients see the sequence's events). */
  closeApi(): Promise<void>;
  /** Stops the orphan reaper: its scans need /proc, which is about to go. */
  stopReaper(): void;
  log(line: string): void;
}

/** Grace for processes that are not services (containers' shims, orphans). */
const leftoverGraceMs = 2000;

/** Takes the machine down and reboots or powers off; never resolves on metal. */
export async function powerDown(deps: PowerDeps, action: PowerAction, force: boolean): Promise<void> {
  deps.events.publish({ t: "machine", stage: action === "reboot" ? "rebooting" : "shutting-down", message: force ? "forced" : "graceful" });
  if (!force) await step(deps, "stopping services", () => deps.stopServices());
  await step(deps, "closing the API", () => deps.closeApi());
  await step(deps, "ending leftover processes", () => killAll(deps.sys, force ? 0 : leftoverGraceMs));
  deps.stopReaper();
  await step(deps, "unmounting", () => unmountAll(deps.sys, { log: deps.log }));
  deps.sys.sync();
  deps.log(`${action}: calling reboot(2)`);
  deps.sys.reboot(action === "reboot" ? RB.AUTOBOOT : RB.POWER_OFF);
}

/** Runs a step of the way down; a failure is logged, never stops the rest. */
async function step(deps: PowerDeps, what: string, fn: () => Promise<void> | void): Promise<void> {
  deps.log(`${what}`);
  try {
    await fn();
  } catch (err) {
    deps.log(`${what} failed: ${(err as Error).message}`);
  }
}

/** The last resort for an error PID 1 cannot handle: log it, sync, reboot. */
export function emergencyReboot(sys: Sys, err: unknown, log: (line: string) => void): void {
  log(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}; syncing and rebooting`);
  try {
    sys.sync();
    sys.reboot(RB.AUTOBOOT);
  } catch (rebootErr) {
    log(`fatal: reboot(2) failed: ${(rebootErr as Error).message}`);
  }
}
