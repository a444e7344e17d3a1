// `cluster show` for VMs: every machine under the VM root, its status from /proc.
import type { MachineInfo } from "../provisioner.js";
import { checkName } from "../sandbox/name.js";
import { isAlive } from "../sandbox/proc.js";
import { machineNames, readRecord } from "../sandbox/state.js";
import { type VmRecord, vmLayout, vmRoot } from "./state.js";

/** MachineInfo with status from /proc: a VM whose QEMU is gone is stopped. */
export function liveVmInfo(rec: VmRecord): MachineInfo {
  const { name, provisioner, endpoint, localEndpoint, address, pid, stateDir, consoleLog } = rec;
  const info = { name, provisioner, endpoint, localEndpoint, address, pid, status: "running", stateDir, consoleLog };
  return isAlive(rec.qemu) ? info : { ...info, status: "stopped", pid: 0, endpoint: "", address: "" };
}

/** Every VM, or just `name` (empty when unknown). */
export function listVms(name?: string): MachineInfo[] {
  if (name !== undefined) checkName(name);
  const names = name === undefined ? machineNames(vmRoot()) : [name];
  return names.flatMap((n) => {
    const rec = readRecord<VmRecord>(vmLayout(n));
    return rec ? [liveVmInfo(rec)] : [];
  });
}
