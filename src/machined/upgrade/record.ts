// The upgrade record on STATE (upgrade.json): what the last upgrade or
// rollback was and where it is. Written atomically before every step that
// can end in a reboot, and read at every boot, so the boot after an upgrade
// knows whether it is the new slot's trial or the old slot after a failed
// one: a boot on the old slot while the record is staged, pending or trial is
// a rollback, and the record says why.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.js";
import type { UpgradeStatusInfo } from "../machine.js";

export type UpgradeState = UpgradeStatusInfo["state"];

/** A service running when the upgrade began: the trial waits for it again. */
export interface WatchedService {
  id: string;
  /** It had a health check: the trial waits for healthy, not only Running. */
  checked: boolean;
}

export interface UpgradeRecord {
  state: UpgradeState;
  from: { slot: string; version: string };
  to: { slot: string; version: string };
  reason: string;
  /** ISO time of the last change. */
  time: string;
  services: WatchedService[];
  healthTimeoutMs: number;
  /** Why the trial gave up, written before its reboot back to the old slot. */
  failure?: string;
}

export const RECORD_FILE = "upgrade.json";
const STATES: readonly UpgradeState[] = ["staged", "pending", "trial", "committed", "rolled-back"];

/** The record in `stateDir`, or undefined when there is none or it is unreadable (logged). */
export function readRecord(stateDir: string, log: (line: string) => void): UpgradeRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(stateDir, RECORD_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as UpgradeRecord;
    if (!STATES.includes(r.state) || typeof r.from?.slot !== "string" || typeof r.to?.slot !== "string") throw new Error("unexpected shape");
    return { ...r, services: Array.isArray(r.services) ? r.services : [], healthTimeoutMs: Number(r.healthTimeoutMs) || 0, reason: r.reason ?? "" };
  } catch (err) {
    log(`upgrade: ${join(stateDir, RECORD_FILE)} is unreadable (${(err as Error).message}); ignoring it`);
    return undefined;
  }
}

/** Writes the record atomically, stamped with `now`. */
export function writeRecord(stateDir: string, r: UpgradeRecord, now = new Date()): UpgradeRecord {
  const stamped = { ...r, time: now.toISOString() };
  writeFileAtomic(join(stateDir, RECORD_FILE), `${JSON.stringify(stamped, null, 2)}\n`, 0o644);
  return stamped;
}

/** The record as the API shows it. */
export function statusOf(r: UpgradeRecord): UpgradeStatusInfo {
  return { state: r.state, fromSlot: r.from.slot, fromVersion: r.from.version, toSlot: r.to.slot, toVersion: r.to.version, reason: r.reason, time: new Date(r.time) };
}
