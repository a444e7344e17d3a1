// The QEMU command line for a kiln VM: direct kernel boot of an image
// directory, serial console to a file, user-mode network with apid's port
// forwarded to the host's loopback (or a cluster's tap), and the config by
// fw_cfg or a drive.
// For an install, the disk to install to is the first virtio drive (vda)
// and the install media (kiln-upgrade.tar, read-only) the second (vdb).
import type { Accel } from "./accel.js";
import { apidPort } from "../../machinery/apid.js";

export interface QemuArgs {
  name: string;
  accel: Accel;
  /** Direct kernel boot (no disk): the image's kernel, initramfs and command line. */
  kernel?: string;
  initramfs?: string;
  cmdline?: string;
  /** Boot from this disk image instead (GRUB on it picks the slot). */
  disk?: string;
  memoryMb: number;
  cpus: number;
  consoleLog: string;
  /** Host port forwarded to the guest's 50000 (apid), on 127.0.0.1 (user-mode network). */
  port?: number;
  /** Instead of user-mode network: this host tap (already on a bridge) and the NIC's fixed MAC. */
  tap?: { ifname: string; mac: string };
  /** A config file passed as fw_cfg opt/kiln/config. */
  fwCfgConfig?: string;
  /** A disk image attached read-only as a virtio drive (a config drive). */
  configDrive?: string;
  /** With direct kernel boot: a disk to install to, attached first (/dev/vda). */
  installDisk?: string;
  /** With direct kernel boot: a kiln-upgrade.tar attached read-only after the install disk (/dev/vdb). */
  installMedia?: string;
  /** QEMU's human monitor on this unix socket (what a console's keyboard would send: `sendkey ctrl-alt-delete`). */
  monitor?: string;
  /** Where the RTC starts (-rtc base=): "utc", "localtime" or "YYYY-MM-DD[THH:MM:SS]"; QEMU's default is utc. */
  rtcBase?: string;
}

export function qemuArgs(a: QemuArgs): string[] {
  const args = [
    "-name", a.name,
    "-accel", a.accel,
    ...(a.accel === "kvm" ? ["-cpu", "host"] : ["-cpu", "max"]),
    "-m", String(a.memoryMb),
    "-smp", String(a.cpus),
    "-nodefaults", "-no-user-config",
    "-display", "none",
    "-serial", `file:${a.consoleLog}`,
    ...(a.disk
      ? ["-drive", `file=${a.disk},format=raw,if=virtio,cache=unsafe`]
      : ["-kernel", a.kernel ?? "", "-initrd", a.initramfs ?? "", "-append", a.cmdline ?? ""]),
    ...(a.installDisk ? ["-drive", `file=${a.installDisk},format=raw,if=virtio,cache=unsafe`] : []),
    ...(a.installMedia ? ["-drive", `file=${a.installMedia},if=virtio,format=raw,readonly=on`] : []),
    ...netArgs(a),
    "-device", "virtio-rng-pci",
  ];
  if (a.fwCfgConfig) args.push("-fw_cfg", `name=opt/kiln/config,file=${a.fwCfgConfig}`);
  if (a.configDrive) args.push("-drive", `file=${a.configDrive},if=virtio,format=raw,readonly=on`);
  if (a.rtcBase) args.push("-rtc", `base=${a.rtcBase}`);
  if (a.monitor) args.push("-monitor", `unix:${a.monitor},server=on,wait=off`);
  return args;
}

/** The NIC: a tap on a cluster's bridge with its fixed MAC, else user-mode with apid's port forwarded. */
function netArgs(a: QemuArgs): string[] {
  // romfile= : no PXE option ROM (direct kernel boot needs none, and ipxe-qemu may be absent)
  if (a.tap) {
    return ["-netdev", `tap,id=net0,ifname=${a.tap.ifname},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=net0,mac=${a.tap.mac},romfile=`];
  }
  if (a.port === undefined) throw new Error("a VM needs a forwarded port or a tap");
  return ["-netdev", `user,id=net0,hostfwd=tcp:127.0.0.1:${a.port}-:${apidPort}`, "-device", "virtio-net-pci,netdev=net0,romfile="];
}
