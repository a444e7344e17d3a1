// Reboot by kexec: the running slot's kernel and initramfs are staged with
// kexec_file_load(2) while the disk and /proc are still there, and the last
// step of the way down is reboot(RB_KEXEC), which skips firmware and GRUB.
// Only a committed boot goes this way: a trial must reboot through GRUB, whose
// grubenv brings a failed trial back to the committed slot, and a fallback
// boot reboots through GRUB to try the committed slot again.
//
// The slot is found by its GPT partition name (BOOT-A, BOOT-B), never by its
// filesystem label: an upgrade writes a slot by copying the other one's.
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelPaths, machinedPaths } from "../machinery/paths.js";
import { type Sys, SysError } from "../sys/sys.js";
import { namedPartitions, type Partition, RO_MOUNT, withMount } from "./disks.js";
import { slotFromCmdline } from "./slots.js";

/** A staged kernel, or why none could be. */
export type KexecPrepared = { ok: true; slot: string } | { ok: false; why: string };

export interface KexecDeps {
  sys: Sys;
  log(line: string): void;
  /** The running kernel's command line (default: /proc/cmdline); the new kernel gets it unchanged. */
  cmdline?: string;
  /** The disk's named partitions (default: namedPartitions()). */
  partitions?: Partition[];
  /** Where the slot is mounted for a moment (default: /run/kiln-kexec). */
  mountDir?: string;
}

/** What an errno of kexec_file_load(2) means on a kiln machine. */
const KEXEC_ERRORS: Record<string, string> = {
  EPERM: "the kernel is locked down (Secure Boot) or refuses to kexec",
  ENOSYS: "the kernel was built without kexec_file_load",
  EKEYREJECTED: "the kernel's signature was rejected",
  ENOKEY: "the kernel is not signed by a trusted key",
  EBADMSG: "the kernel's signature is malformed",
  ENOEXEC: "the kernel image is not one this kernel can kexec",
};

/**
 * A slot to kexec into and how it is booted: an upgrade's trial, a rollback's
 * or installer's committed slot. Its kernel command line is the slot's own
 * (`cmdline` next to its vmlinuz) with kiln.slot and kiln.boot added, as GRUB
 * would have it.
 */
export interface KexecTarget {
  slot: "A" | "B";
  boot: "committed" | "trial";
}

/** Stages a kernel for reboot(RB.KEXEC): `target`'s, else the running slot's; or says why it cannot. The loop stays free while the kernel reads the files. */
export async function prepareKexec(d: KexecDeps, target?: KexecTarget): Promise<KexecPrepared> {
  const running = (d.cmdline ?? readFileSync(kernelPaths.cmdline, "utf8")).trim();
  let slot: string;
  let cmdline: (dir: string) => string;
  if (target) {
    slot = target.slot;
    cmdline = (dir) => `${slotCmdline(dir, running)} kiln.slot=${target.slot} kiln.boot=${target.boot}`;
  } else {
    const booted = slotFromCmdline(running);
    slot = booted.slot;
    if (!slot) return no("the machine did not boot from its disk (no kiln.slot on the kernel command line)");
    if (booted.bootMode === "trial") return no(`slot ${slot} is on trial: its reboot goes through GRUB, which falls back if it fails`);
    if (booted.bootMode !== "committed") return no(`slot ${slot} was booted as ${booted.bootMode || "an unmarked boot"}: its reboot goes through GRUB`);
    cmdline = () => running;
  }
  const part = (d.partitions ?? namedPartitions()).find((p) => p.label === `BOOT-${slot}`);
  if (!part) return no(`the disk has no partition named BOOT-${slot}`);
  try {
    await loadSlot(d, part.device, cmdline);
  } catch (err) {
    return no((err as Error).message);
  }
  d.log(`kexec: staged slot ${slot}'s kernel from ${part.device}${target ? ` (${target.boot})` : ""}`);
  return { ok: true, slot };
}

/** A slot's own kernel command line (its `cmdline` file), else the running one without kiln.slot and kiln.boot. */
function slotCmdline(dir: string, running: string): string {
  try {
    const own = readFileSync(join(dir, "cmdline"), "utf8").trim();
    if (own) return own;
  } catch {
    // an older slot without the file
  }
  return running
    .split(/\s+/)
    .filter((w) => !/^kiln\.(slot|boot)=/.test(w))
    .join(" ");
}

/** Mounts a slot read-only, hands its vmlinuz and initramfs to the kernel, unmounts it. */
async function loadSlot(d: KexecDeps, device: string, cmdline: (dir: string) => string): Promise<void> {
  const mount = { device, dir: d.mountDir ?? machinedPaths.kexecMount, fstype: "ext4", flags: RO_MOUNT, log: (l: string) => d.log(`kexec: ${l}`) };
  await withMount(d.sys, mount, async (dir) => {
    const line = cmdline(dir);
    await withFd(join(dir, "vmlinuz"), (kernel) => withFd(join(dir, "initramfs"), (initrd) => kexecFileLoad(d.sys, kernel, initrd, line)));
  });
}

/** Runs `fn` with a file open for reading; closes it once `fn` has settled. */
async function withFd(path: string, fn: (fd: number) => Promise<void>): Promise<void> {
  const fd = openSync(path, "r");
  try {
    await fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** kexec_file_load(2); its error says what the errno means on a kiln machine. */
async function kexecFileLoad(sys: Sys, kernel: number, initrd: number, cmdline: string): Promise<void> {
  try {
    await sys.kexecFileLoad(kernel, initrd, cmdline, 0);
  } catch (err) {
    const meaning = err instanceof SysError ? KEXEC_ERRORS[err.code] : undefined;
    throw meaning ? new Error(`${(err as Error).message}: ${meaning}`, { cause: err }) : err;
  }
}

function no(why: string): KexecPrepared {
  return { ok: false, why };
}
