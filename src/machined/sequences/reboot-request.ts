// A reboot or power-off asked for by a task: returned (or thrown) from any
// task of any sequence, and carried out in one place (the runner hands it to
// power.ts), under the lock the sequence already holds.
import type { KexecPrepared } from "../kexec.js";
import type { RebootMode } from "../machine.js";
import type { PowerAction } from "../power.js";

export interface RebootRequest {
  readonly t: "reboot-request";
  action: PowerAction;
  /** default: kexec into the running slot when possible; powercycle: through firmware. */
  mode: RebootMode;
  /** Skip stopping services gracefully. */
  force: boolean;
  /** A kernel already staged for kexec (an upgrade's trial, an install, a rollback). */
  kexec?: KexecPrepared;
  /** Runs once everything is unmounted, before reboot(2): reset wipes partitions here. */
  beforeReboot?: () => Promise<void> | void;
  /** In words, for the timeline and the console. */
  why: string;
}

/** `rebootRequest("reboot", "upgrade to 0.2.0", { kexec })`: a request with defaults (mode default, not forced). */
export function rebootRequest(action: PowerAction, why: string, o: Partial<Omit<RebootRequest, "t" | "action" | "why">> = {}): RebootRequest {
  return { t: "reboot-request", action, why, mode: o.kexec ? "default" : (o.mode ?? "default"), force: o.force ?? false, ...(o.kexec ? { kexec: o.kexec } : {}), ...(o.beforeReboot ? { beforeReboot: o.beforeReboot } : {}) };
}

/** Thrown by a task that must reboot from deep inside; the runner treats it as returned. */
export class RebootRequested extends Error {
  override name = "RebootRequested";
  constructor(readonly request: RebootRequest) {
    super(`${request.action} requested: ${request.why}`);
  }
}

/** The request in a task's result or thrown value, if it is one. */
export function asRebootRequest(x: unknown): RebootRequest | undefined {
  if (x instanceof RebootRequested) return x.request;
  return typeof x === "object" && x !== null && (x as { t?: unknown }).t === "reboot-request" ? (x as RebootRequest) : undefined;
}
