// What the host program does when the sandbox's PID 1 has died. In a child
// PID namespace reboot(2) does not reboot: the kernel kills PID 1 with SIGHUP
// for RESTART and SIGINT for POWER_OFF/HALT, and unshare passes that on. So
// SIGHUP means "start me again"; anything else means the machine stopped.

/** How PID 1 (as reported by unshare) ended. */
export interface PidOneExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why PID 1 never started (its network could not be set up, say). */
  error?: string;
}

export type AfterExit = { t: "restart" } | { t: "stop"; reason: string };

export interface RestartContext {
  /** A stop was asked for (destroy, SIGTERM to the host program). */
  stopping: boolean;
  /** When earlier restarts happened (ms since epoch). */
  restarts: number[];
  now: number;
}

/** More restarts than this within the window is a crash loop: stop instead. */
export const restartLimit = { count: 5, windowMs: 60_000 };

/** Decides whether to start the sandbox again after PID 1 ended with `exit`. */
export function afterExit(exit: PidOneExit, ctx: RestartContext): AfterExit {
  if (exit.error) return { t: "stop", reason: exit.error };
  if (exit.signal !== "SIGHUP") return { t: "stop", reason: describeExit(exit) };
  if (ctx.stopping) return { t: "stop", reason: "rebooted while stopping" };
  const recent = ctx.restarts.filter((t) => ctx.now - t < restartLimit.windowMs).length;
  if (recent >= restartLimit.count) {
    return { t: "stop", reason: `rebooted ${recent + 1} times within ${restartLimit.windowMs / 1000} s; not restarting` };
  }
  return { t: "restart" };
}

/** A stop reason in words. */
export function describeExit(exit: PidOneExit): string {
  if (exit.signal === "SIGINT") return "powered off";
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}
