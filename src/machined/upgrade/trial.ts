// The trial of a new slot: it is committed only once the services that ran
// before the upgrade run again (healthy, where they have a health check), and
// rolled back (by a reboot through GRUB, whose grubenv already points at the
// old slot) when they do not within the record's timeout. machined and apid
// being up is part of it: apid is one of the watched services, and this code
// runs in machined.
import type { ServiceStatus } from "../service.js";
import type { WatchedService } from "./record.js";

/** What the trial waits for, and how often it looks. */
export interface TrialDeps {
  services(): ServiceStatus[];
  watched: WatchedService[];
  timeoutMs: number;
  pollMs?: number;
  /** Consecutive good looks needed (a crash-looping service is Running for a moment). */
  settle?: number;
  signal?: AbortSignal;
}

export type TrialResult = { ok: true } | { ok: false; reason: string };

/** Why `w` is not back yet, or undefined when it is. */
export function notBack(w: WatchedService, all: ServiceStatus[]): string | undefined {
  const s = all.find((x) => x.id === w.id);
  if (!s) return `${w.id} is not registered`;
  if (s.state !== "Running") return `${w.id} is ${s.state}${s.message ? ` (${s.message})` : ""}`;
  if (w.checked && s.healthy !== true) return `${w.id} is not healthy${s.healthMessage ? ` (${s.healthMessage})` : " yet"}`;
  return undefined;
}

/** Waits until every watched service is back (ok) or the timeout passes (with what was still missing). */
export async function runTrial(d: TrialDeps): Promise<TrialResult> {
  const poll = d.pollMs ?? 1000;
  const settle = d.settle ?? 3;
  const deadline = Date.now() + d.timeoutMs;
  let good = 0;
  let missing: string[] = [];
  for (;;) {
    if (d.signal?.aborted) return { ok: false, reason: "the trial was interrupted" };
    const all = d.services();
    missing = d.watched.map((w) => notBack(w, all)).filter((m): m is string => m !== undefined);
    good = missing.length === 0 ? good + 1 : 0;
    if (good >= settle) return { ok: true };
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, poll));
  }
  return { ok: false, reason: `not healthy within ${Math.round(d.timeoutMs / 1000)} s: ${missing.join("; ")}` };
}
