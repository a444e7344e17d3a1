// An upgrade's record (UpgradeStatus) as kilnctl shows it: the JSON/YAML
// object under `version`'s `upgrade`, and the one line its table prints.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { UpgradeStatus } from "../gen/kiln/machine/v1/machine_pb.js";

/** The JSON/YAML shape of an upgrade record. */
export interface UpgradeStatusRecord {
  /** "staged", "pending", "trial", "committed" or "rolled-back". */
  state: string;
  fromSlot: string;
  fromVersion: string;
  toSlot: string;
  toVersion: string;
  /** Why it rolled back, or what it waits for; "" when nothing to say. */
  reason: string;
  /** When the state last changed (ISO 8601); null when the machine did not say. */
  time: string | null;
}

/** The record of an UpgradeStatus. */
export function upgradeStatusRecord(s: UpgradeStatus): UpgradeStatusRecord {
  const { state, fromSlot, fromVersion, toSlot, toVersion, reason } = s;
  return { state, fromSlot, fromVersion, toSlot, toVersion, reason, time: s.time ? timestampDate(s.time).toISOString() : null };
}

/** `last upgrade: 0.1.0 → 0.2.0 on slot B: committed`, with the reason when there is one. */
export function lastUpgradeLine(r: UpgradeStatusRecord): string {
  const why = r.reason ? ` (${r.reason})` : "";
  return `last upgrade: ${r.fromVersion || "?"} → ${r.toVersion || "?"} on slot ${r.toSlot || "?"}: ${r.state}${why}`;
}
