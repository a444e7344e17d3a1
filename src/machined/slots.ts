// The boot slots of a machine booted from its disk: which one runs (GRUB puts
// kiln.slot and kiln.boot on the kernel command line) and the kiln version
// each holds (its manifest.json), read once at boot by mounting the BOOT-A
// and BOOT-B partitions read-only for a moment.
import { mkdtempSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { kernelPaths, machinedPaths } from "../machinery/paths.js";
import type { Sys } from "../sys/sys.js";
import { cmdlineValue } from "./config-sources/kernel-cmdline.js";
import { type Partition, RO_MOUNT, withMount } from "./disks.js";

export interface BootSlot {
  name: "A" | "B";
  version: string;
  active: boolean;
}

export interface SlotInfo {
  /** "A", "B", or "" without a disk. */
  slot: string;
  /** "committed", "trial", "fallback", or "". */
  bootMode: string;
  slots: BootSlot[];
}

/** kiln.slot and kiln.boot from a kernel command line. */
export function slotFromCmdline(cmdline: string): { slot: string; bootMode: string } {
  const slot = cmdlineValue(cmdline, "kiln.slot") ?? "";
  return { slot: slot === "A" || slot === "B" ? slot : "", bootMode: cmdlineValue(cmdline, "kiln.boot") ?? "" };
}

export interface SlotDeps {
  sys: Sys;
  partitions: Partition[];
  cmdline?: string;
  log(line: string): void;
  /** Where to mount a slot for a moment (default: a new directory under /run). */
  scratch?: () => string;
}

/** The running slot and both slots' versions; slots the disk lacks are left out. */
export function readSlots(d: SlotDeps): SlotInfo {
  const { slot, bootMode } = slotFromCmdline(d.cmdline ?? readFileSync(kernelPaths.cmdline, "utf8"));
  const slots: BootSlot[] = [];
  for (const name of ["A", "B"] as const) {
    const part = d.partitions.find((p) => p.label === `BOOT-${name}`);
    if (!part) continue;
    slots.push({ name, version: slotVersion(d, part.device), active: name === slot });
  }
  return { slot, bootMode, slots };
}

/** The kiln version in a slot's manifest.json ("" for an empty or unreadable slot). */
function slotVersion(d: SlotDeps, device: string): string {
  const dir = (d.scratch ?? (() => mkdtempSync(machinedPaths.slotScratch)))();
  try {
    return withMount(d.sys, { device, dir, fstype: "ext4", flags: RO_MOUNT, log: (l) => d.log(`slots: ${l}`) }, () => {
      try {
        return (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { kiln?: string }).kiln ?? "";
      } catch {
        return "";
      }
    });
  } catch (err) {
    d.log(`slots: ${device}: ${(err as Error).message}`);
    return "";
  } finally {
    try {
      rmdirSync(dir);
    } catch (err) {
      d.log(`slots: removing ${dir}: ${(err as Error).message}`);
    }
  }
}
