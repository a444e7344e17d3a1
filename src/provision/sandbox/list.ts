// `cluster show`: every sandbox under the state root, with live status.
import type { MachineInfo } from "../provisioner.js";
import { liveInfo } from "./live.js";
import { checkName } from "./name.js";
import { machineNames, readRecord, stateLayout } from "./state.js";

/** All machines, or just `name` (empty when there is no such machine). */
export function listSandboxes(name?: string): MachineInfo[] {
  if (name !== undefined) checkName(name);
  const names = name === undefined ? machineNames() : [name];
  return names.flatMap((n) => {
    const rec = readRecord(stateLayout(n));
    return rec ? [liveInfo(rec)] : [];
  });
}
