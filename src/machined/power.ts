// Reboot and shutdown, handled in one place: stop services, end every other
// process, unmount, sync, then reboot(2). On the sandbox platform reboot(2)
// ends our PID namespace and its parent sees how (SIGHUP: restart, SIGINT:
// power off); on metal it does not return. A reboot in the default mode
// kexecs into the running slot's kernel when it can (src/machined/kexec.ts),
// staged while the disk and /proc are still there: after the services have
// stopped on a graceful reboot (staging reads and hashes the kernel and
// initramfs, ~60 MB: beside a busy control plane under TCG it took 57 s,
// against ~5 s on a quiet machine), first on a forced one.
import { killAll } from "../init/kill-all.js";
import { unmountAll } from "../init/unmount.js";
import { RB, type Sys } from "../sys/sys.js";
import type { EventBus } from "./events.js";
import type { KexecPrepared } from "./kexec.js";
import type { RebootMode } from "./machine.js";

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
  /** Closes the service log files: the last files machined holds open on /var. */
  closeLogs?(): void;
  /** Runs once everything is unmounted, before reboot(2): reset wipes the disk here. */
  beforeReboot?(): Promise<void> | void;
  /** Stages the running slot's kernel for reboot(RB.KEXEC); absent where kexec is not possible (the sandbox). */
  prepareKexec?(): Promise<KexecPrepared>;
}

/** How a reboot ends: in the staged kernel or through firmware, and the event's words for it. */
interface RebootPath {
  kexec: boolean;
  message: string;
}

/** How long the way down waits before its first blocking step, so the caller's answer is sent. */
const answerFirstMs = 200;

/** Grace for processes that are not services (containers' shims, orphans). */
const leftoverGraceMs = 2000;

/** Takes the machine down and reboots (kexec in the default mode, when possible) or powers off; never resolves on metal. */
export async function powerDown(deps: PowerDeps, action: PowerAction, force: boolean, mode: RebootMode = "powercycle"): Promise<void> {
  // The request that asked for this is answered first, before anything of the way down starts.
  await new Promise((r) => setTimeout(r, answerFirstMs));
  const stage = action === "reboot" ? "rebooting" : "shutting-down";
  // A graceful kexec reboot is announced at once, staged once the services have stopped, and announced again with what the staging decided.
  const stageLater = !force && action === "reboot" && mode === "default" && deps.prepareKexec !== undefined;
  let path: RebootPath | undefined;
  if (stageLater) {
    deps.events.publish({ t: "machine", stage, message: "graceful; kexec once services have stopped" });
  } else {
    path = action === "reboot" ? await rebootPath(deps, mode) : undefined;
    deps.events.publish({ t: "machine", stage, message: [force ? "forced" : "graceful", path?.message].filter(Boolean).join("; ") });
  }
  if (!force) await step(deps, "stopping services", () => deps.stopServices());
  if (stageLater) {
    path = await rebootPath(deps, mode);
    // What the staging decided: the kernel it staged (an upgrade's trial slot, say), or a full reboot and why.
    deps.events.publish({ t: "machine", stage, message: `graceful; ${path.message}` });
  }
  await step(deps, "closing the API", () => deps.closeApi());
  await step(deps, "ending leftover processes", () => killAll(deps.sys, force ? 0 : leftoverGraceMs));
  deps.stopReaper();
  await step(deps, "unmounting", () => unmountAll(deps.sys, { log: deps.log }));
  // Closed after the unmount (a write can no longer reopen one): /var's detached file system then really unmounts.
  if (deps.closeLogs) await step(deps, "closing service logs", deps.closeLogs);
  if (deps.beforeReboot) await step(deps, "before reboot(2)", deps.beforeReboot);
  deps.sys.sync();
  if (path?.kexec && kexecNow(deps)) return;
  deps.log(`${action}: calling reboot(2)`);
  deps.sys.reboot(action === "reboot" ? RB.AUTOBOOT : RB.POWER_OFF);
}

/** Decides how a reboot ends, staging the kernel now when the mode asks for kexec. */
async function rebootPath(deps: PowerDeps, mode: RebootMode): Promise<RebootPath> {
  if (mode === "powercycle") return { kexec: false, message: "full reboot (powercycle)" };
  if (!deps.prepareKexec) return { kexec: false, message: "full reboot: kexec is not possible on this platform" };
  let prepared: KexecPrepared;
  try {
    prepared = await deps.prepareKexec();
  } catch (err) {
    prepared = { ok: false, why: (err as Error).message };
  }
  if (prepared.ok) return { kexec: true, message: `kexec into slot ${prepared.slot}` };
  deps.log(`reboot: no kexec: ${prepared.why}`);
  return { kexec: false, message: `full reboot: ${prepared.why}` };
}

/** reboot(RB.KEXEC) into the staged kernel; false (logged) when it fails, for a full reboot instead. */
function kexecNow(deps: PowerDeps): boolean {
  deps.log("reboot: calling reboot(2) to kexec");
  try {
    deps.sys.reboot(RB.KEXEC);
    return true;
  } catch (err) {
    deps.log(`reboot: kexec failed: ${(err as Error).message}; full reboot`);
    return false;
  }
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
