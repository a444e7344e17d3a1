// A sandbox's state directory on the host, and machine.json in it:
//   <root>/<name>/machine.json      what `cluster show` prints, plus host bookkeeping
//   <root>/<name>/platform/         bound at /mnt inside; platform/state is machined's /system/state
//   <root>/<name>/console.log       machined's stdout and stderr, across restarts
//   <root>/<name>/host.log          the host program's own log
//   <root>/<name>/machined.sock     link to the API socket inside the current PID 1's root
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import type { MachineInfo } from "../provisioner.js";
import type { Lease } from "./leases.js";
import type { ProcRef } from "./proc.js";

/** Where the sandboxes live: $KILN_STATE_DIR, else /var/lib/kiln/sandboxes. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.KILN_STATE_DIR ?? "/var/lib/kiln/sandboxes");
}

/** The files of one machine's state directory. */
export interface StateLayout {
  dir: string;
  record: string;
  platform: string;
  /** machined's /system/state. */
  platformState: string;
  /** The config machined boots with. */
  config: string;
  consoleLog: string;
  hostLog: string;
  socket: string;
}

/** The layout of machine `name` under `root`. */
export function stateLayout(name: string, root = stateRoot()): StateLayout {
  const dir = join(root, name);
  return {
    dir,
    record: join(dir, "machine.json"),
    platform: join(dir, "platform"),
    platformState: join(dir, "platform", "state"),
    config: join(dir, "platform", "state", "config.yaml"),
    consoleLog: join(dir, "console.log"),
    hostLog: join(dir, "host.log"),
    socket: join(dir, "machined.sock"),
  };
}

/** The API socket's path inside the machine (see src/machined/paths.ts). */
export const machinedSocket = "/run/machined/machined.sock";

/** machine.json: the public MachineInfo plus what the host program needs. */
export interface MachineRecord extends MachineInfo {
  /** The rootfs tree the sandbox runs. */
  rootfs: string;
  /** The stage-1 bundle (dist/stage1-sandbox.cjs) that pivots into it. */
  stage1: string;
  /** The host program (sandbox-host) supervising this machine. */
  host?: ProcRef;
  /** PID 1 with its start time; `pid` repeats its PID for the contract. */
  pidOne?: ProcRef;
  /** When the sandbox was (re)started after a reboot, ms since epoch. */
  restarts: number[];
  /** Why the machine last stopped. */
  stopReason?: string;
  /** The /30 the host program holds for this machine while it runs (see leases.ts). */
  network?: Lease;
}

/** Reads machine.json, or undefined when there is none. */
export function readRecord<R = MachineRecord>(layout: { record: string }): R | undefined {
  let text: string;
  try {
    text = readFileSync(layout.record, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`reading ${layout.record}`, { cause: err });
  }
  try {
    return JSON.parse(text) as R;
  } catch (err) {
    throw new Error(`${layout.record} is not valid JSON`, { cause: err });
  }
}

/** Writes machine.json atomically (temp file, fsync, rename). */
export function writeRecord<R = MachineRecord>(layout: { record: string }, rec: R): void {
  const tmp = `${layout.record}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeSync(fd, `${JSON.stringify(rec, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, layout.record);
}

/** Changes some fields of machine.json. */
export function updateRecord(layout: StateLayout, change: Partial<MachineRecord>): MachineRecord {
  const rec = readRecord(layout);
  if (!rec) throw new Error(`${layout.record} is gone`);
  const next = { ...rec, ...change };
  writeRecord(layout, next);
  return next;
}

/** Names of the machines under `root` (directories holding a machine.json), sorted. */
export function machineNames(root: string = stateRoot()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new Error(`listing ${root}`, { cause: err });
  }
  return names.filter((n) => readdirSafe(join(root, n)).includes("machine.json")).sort();
}

/** Entries of a directory; none when it is not one. */
function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The public contract from a record: exactly MachineInfo's keys. */
export function toInfo(rec: MachineRecord): MachineInfo {
  const { name, provisioner, pid, status, stateDir, consoleLog } = rec;
  // Records written before sandboxes had a network lack the last two.
  const localEndpoint = rec.localEndpoint ?? `unix://${join(stateDir, "machined.sock")}`;
  const endpoint = rec.endpoint?.startsWith("unix:") ? "" : (rec.endpoint ?? "");
  return { name, provisioner, endpoint, localEndpoint, address: rec.address ?? "", pid, status, stateDir, consoleLog };
}
