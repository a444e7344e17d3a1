// Reset: wipe the machine's STATE (config, identity) and EPHEMERAL (/var) so
// that it boots back into maintenance mode. Partitions are wiped at the end of
// the power-down, once everything is unmounted (mkfs under a mounted file
// system would be overwritten by it) and before reboot(2); /dev went with the
// unmount, so devtmpfs comes back for their nodes. Without a disk, STATE is a
// directory (a tmpfs, or the sandbox's volume): it is emptied at once.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { invalid } from "./errors.js";
import { MNT, MS, type Sys } from "../sys/sys.js";
import { blankStart, mkfsExt4, type Partition } from "./disks.js";
import type { ResetRequest } from "./machine.js";
import type { PowerAction } from "./power.js";

/** What reset may wipe, as the API names them, and their GPT names. */
export const WIPE_TARGETS = ["state", "ephemeral"] as const;
export type WipeTarget = (typeof WIPE_TARGETS)[number];
const labels: Record<WipeTarget, string> = { state: "STATE", ephemeral: "EPHEMERAL" };

/** A partition to wipe: STATE is made anew (boot refuses a blank one), EPHEMERAL blanked (boot formats it). */
export interface PartitionWipe {
  label: string;
  device: string;
  how: "mkfs" | "zero";
}

export interface ResetPlan {
  action: PowerAction;
  force: boolean;
  targets: WipeTarget[];
  /** Wiped once everything is unmounted. */
  partitions: PartitionWipe[];
  /** Emptied before the power-down: STATE when it has no partition. */
  dirs: string[];
}

/** The targets asked for (none: all of them), or an error naming the unknown ones. */
export function parseWipe(names: string[]): { value: WipeTarget[] } | { error: string } {
  const known: readonly string[] = WIPE_TARGETS;
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) return { error: `expected wipe targets among ${WIPE_TARGETS.join(", ")}, got unknown ${unknown.map((n) => JSON.stringify(n)).join(", ")}` };
  return { value: names.length ? WIPE_TARGETS.filter((t) => names.includes(t)) : [...WIPE_TARGETS] };
}

/** What a reset request will do on this machine; INVALID_ARGUMENT for unknown wipe targets. */
export function planReset(req: ResetRequest, partitions: Partition[], stateDir: string): ResetPlan {
  const parsed = parseWipe(req.wipe);
  if ("error" in parsed) throw invalid(parsed.error);
  const plan: ResetPlan = { action: req.reboot ? "reboot" : "poweroff", force: !req.graceful, targets: parsed.value, partitions: [], dirs: [] };
  for (const target of parsed.value) {
    const part = partitions.find((p) => p.label === labels[target]); // the one mountDisks mounted
    if (part) plan.partitions.push({ label: part.label, device: part.device, how: target === "state" ? "mkfs" : "zero" });
    else if (target === "state") plan.dirs.push(stateDir);
    // EPHEMERAL without a partition: /var is a tmpfs, gone at the reboot.
  }
  return plan;
}

/** Empties each directory, keeping the directory itself (it may be a mount point). */
export function clearDirs(dirs: string[], log: (line: string) => void): void {
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    log(`reset: emptied ${dir}`);
  }
}

export interface WipeDeps {
  sys: Sys;
  log(line: string): void;
  /** Makes an ext4 file system with a label (default: mkfs.ext4 from the image). */
  mkfs?(device: string, label: string): void;
  /** Blanks the start of a device (default: zeroes its first 4 MiB). */
  zero?(device: string): void;
}

/** Wipes the partitions after unmountAll; a failure is logged, and the others are still wiped. */
export function wipePartitions(d: WipeDeps, parts: PartitionWipe[]): void {
  if (parts.length === 0) return;
  try {
    d.sys.mount("devtmpfs", "/dev", "devtmpfs", MS.NOSUID | MS.NOEXEC, "mode=0755");
  } catch (err) {
    d.log(`reset: mounting /dev: ${(err as Error).message}`);
  }
  for (const p of parts) wipeOne(d, p);
  d.sys.sync();
  try {
    d.sys.umount2("/dev", MNT.DETACH);
  } catch {
    // going down either way
  }
}

/** Wipes one partition, saying how. */
function wipeOne(d: WipeDeps, p: PartitionWipe): void {
  try {
    if (p.how === "mkfs") (d.mkfs ?? mkfsExt4)(p.device, p.label);
    else (d.zero ?? blankStart)(p.device);
    d.log(`reset: ${p.device} (${p.label}) ${p.how === "mkfs" ? "made anew, empty" : "blanked; the next boot formats it"}`);
  } catch (err) {
    d.log(`reset: wiping ${p.device} (${p.label}) failed: ${(err as Error).message}`);
  }
}
