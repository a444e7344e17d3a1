// A machine's status as it is now, from machine.json checked against /proc.
import { readFileSync } from "node:fs";
import type { MachineInfo } from "../provisioner.js";
import { isAlive } from "./proc.js";
import { type MachineRecord, toInfo } from "./state.js";

/** Whether PID 1 runs, or the host program lives and has not recorded a stop (starting, rebooting). */
export function isRunning(rec: MachineRecord): boolean {
  return isAlive(rec.pidOne) || (isAlive(rec.host) && rec.status !== "stopped");
}

/**
 * MachineInfo with status and pid from /proc rather than from the record; a
 * stopped machine has no address (its lease is given back or stale).
 */
export function liveInfo(rec: MachineRecord): MachineInfo {
  const info = toInfo(rec);
  if (!isRunning(rec)) return { ...info, status: "stopped", pid: 0, endpoint: "", address: "" };
  return { ...info, status: "running", pid: isAlive(rec.pidOne) ? rec.pidOne!.pid : 0 };
}

/** The last `lines` lines of a log file ("" when there is none). */
export function tail(path: string, lines = 40): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "";
  }
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
