// A VM's state directory on the host, and machine.json in it:
//   <root>/<name>/machine.json   what `cluster show` prints, plus QEMU bookkeeping
//   <root>/<name>/console.log    the serial console (kernel, stage 1, machined)
//   <root>/<name>/qemu.log       QEMU's own stderr
//   <root>/<name>/config.yaml    the machine config it was created with (0600)
//   <root>/<name>/config-drive.img  the config drive, when --config-via drive
//   <root>/<name>/monitor.sock   QEMU's human monitor (e.g. `sendkey ctrl-alt-delete`)
import { join, resolve } from "node:path";
import type { MachineInfo } from "../provisioner.js";
import type { ProcRef } from "../sandbox/proc.js";

/** Where VMs live: $KILN_VM_DIR, else /var/lib/kiln/vms. */
export function vmRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.KILN_VM_DIR ?? "/var/lib/kiln/vms");
}

export interface VmLayout {
  dir: string;
  record: string;
  consoleLog: string;
  qemuLog: string;
  config: string;
  configDrive: string;
  monitor: string;
}

export function vmLayout(name: string, root = vmRoot()): VmLayout {
  const dir = join(root, name);
  return {
    dir,
    record: join(dir, "machine.json"),
    consoleLog: join(dir, "console.log"),
    qemuLog: join(dir, "qemu.log"),
    config: join(dir, "config.yaml"),
    configDrive: join(dir, "config-drive.img"),
    monitor: join(dir, "monitor.sock"),
  };
}

/** machine.json for a VM: the public MachineInfo plus what destroy and show need. */
export interface VmRecord extends MachineInfo {
  /** QEMU itself; `pid` repeats its PID for the contract. */
  qemu?: ProcRef;
  /** The host port forwarded to apid's 50000. */
  port: number;
  /** "kvm" or "tcg". */
  accel: string;
  /** The image directory booted. */
  image: string;
  /** How the config reached the machine: "fw_cfg", "drive", "url" or "none". */
  configVia: string;
}
