// PID 1's signal duties. The kernel drops signals PID 1 has no handler for
// only when they come from inside its namespace; anything that would end
// machined must be handled, because PID 1 exiting panics the kernel.
import { RB, type Sys } from "../sys/sys.js";

export interface SignalHandlers {
  onShutdown(reason: string): void;
  onReboot(reason: string): void;
  /** An uncaught error: log, sync and reboot. Never process.exit. */
  onFatal(err: unknown): void;
  /** True when disableCtrlAltDel() succeeded: SIGINT then means ctrl-alt-del. */
  sigintMeansReboot?: boolean;
  log?(line: string): void;
}

/** Signals that must not end machined and need nothing but a log line. */
const IGNORED = ["SIGHUP", "SIGUSR1", "SIGUSR2"] as const satisfies NodeJS.Signals[];

/**
 * Asks the kernel to send us SIGINT on ctrl-alt-del instead of rebooting at
 * once. Only the real PID 1 of the initial pid namespace can (elsewhere
 * reboot(2) says EINVAL or EPERM); returns whether it did.
 */
export function disableCtrlAltDel(sys: Sys): boolean {
  if (sys.getpid() !== 1) return false;
  try {
    sys.reboot(RB.DISABLE_CAD);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM: shut down. SIGINT: reboot when it stands for ctrl-alt-del, else
 * shut down. SIGHUP/SIGUSR1/SIGUSR2: logged (a SIGUSR1 listener also stops
 * Node from opening its inspector). SIGPIPE: Node already ignores it.
 * Uncaught exceptions and rejections go to onFatal.
 */
export function installSignalHandlers(h: SignalHandlers): { uninstall(): void } {
  const log = h.log ?? (() => {});
  const onTerm = () => h.onShutdown("SIGTERM");
  const onInt = () => (h.sigintMeansReboot ? h.onReboot("SIGINT (ctrl-alt-del)") : h.onShutdown("SIGINT"));
  const onIgnored = (sig: NodeJS.Signals) => log(`ignoring ${sig}`);
  const onError = (err: unknown) => fatal(h, log, err);
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  for (const sig of IGNORED) process.on(sig, onIgnored);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return { uninstall: () => uninstall({ onTerm, onInt, onIgnored, onError }) };
}

/** Hands an uncaught error to onFatal; if that throws too, logs both. */
function fatal(h: SignalHandlers, log: (line: string) => void, err: unknown): void {
  try {
    h.onFatal(err);
  } catch (fatalErr) {
    log(`onFatal threw ${String(fatalErr)} while handling ${String(err)}`);
  }
}

/** Removes what installSignalHandlers added. */
function uninstall(l: { onTerm(): void; onInt(): void; onIgnored(sig: NodeJS.Signals): void; onError(err: unknown): void }): void {
  process.off("SIGTERM", l.onTerm);
  process.off("SIGINT", l.onInt);
  for (const sig of IGNORED) process.off(sig, l.onIgnored);
  process.off("uncaughtException", l.onError);
  process.off("unhandledRejection", l.onError);
}
