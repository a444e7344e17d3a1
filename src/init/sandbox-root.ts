// The sandbox root: how stage 1 (stage1-sandbox.ts) turns an unpacked
// rootfs into a read-only root with the platform volume at /mnt, pivots into
// it and execs /sbin/init. Takes a Sys so tests can record the sequence.
import { mkdirSync } from "node:fs";
import { imagePaths } from "../machinery/paths.js";
import { MNT, MS, type Sys } from "../sys/sys.js";
import { PLATFORM_VOLUME } from "./mounts.js";

export interface Stage1Options {
  sys: Sys;
  rootfs: string;
  platformDir: string;
  env: NodeJS.ProcessEnv;
  /** process.chdir unless a test says otherwise. */
  chdir?(dir: string): void;
}

/** Sets up the root and execs /sbin/init; returns only by throwing. */
export function stage1Sandbox(o: Stage1Options): never {
  const chdir = o.chdir ?? process.chdir;
  step("checking we are PID 1", () => requirePid1(o.sys));
  step("making every mount private", () => o.sys.mount("none", "/", null, MS.REC | MS.PRIVATE));
  step(`creating ${o.platformDir}/state`, () => mkdirSync(`${o.platformDir}/state`, { recursive: true }));
  step(`binding ${o.rootfs} onto itself`, () => o.sys.mount(o.rootfs, o.rootfs, null, MS.BIND | MS.REC));
  step(`making ${o.rootfs} read-only`, () => o.sys.mount(o.rootfs, o.rootfs, null, MS.REMOUNT | MS.BIND | MS.RDONLY));
  const volume = `${o.rootfs}${PLATFORM_VOLUME}`;
  step(`binding ${o.platformDir} onto ${volume}`, () => o.sys.mount(o.platformDir, volume, null, MS.BIND | MS.REC));
  step(`pivoting into ${o.rootfs}`, () => pivotInto(o.sys, o.rootfs, chdir));
  return step(`executing ${imagePaths.init}`, () => o.sys.execve(imagePaths.init, [imagePaths.init], initEnv(o.env)));
}

/** Runs one step; a failure says which step. */
function step<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw new Error(what, { cause });
  }
}

/** Refuses to touch the host's mounts: we must be PID 1 of a new namespace. */
function requirePid1(sys: Sys): void {
  const pid = sys.getpid();
  if (pid !== 1) throw new Error(`running as pid ${pid}; run under unshare --pid --fork --mount`);
}

/** pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new root. */
function pivotInto(sys: Sys, rootfs: string, chdir: (dir: string) => void): void {
  chdir(rootfs);
  sys.pivotRoot(".", ".");
  sys.umount2(".", MNT.DETACH);
  chdir("/");
}

/**
 * Our environment for init: `env` (unset names dropped), then each of
 * `defaults` that `env` lacks, then KILN_PLATFORM=platform (sandbox by default).
 */
export function initEnv(env: NodeJS.ProcessEnv, platform = "sandbox", defaults: Record<string, string> = {}): string[] {
  const pairs = Object.entries(env).filter(([k, v]) => v !== undefined && k !== "KILN_PLATFORM");
  const missing = Object.entries(defaults).filter(([k]) => env[k] === undefined);
  return [...[...pairs, ...missing].map(([k, v]) => `${k}=${v}`), `KILN_PLATFORM=${platform}`];
}

/** An error and its causes on one line: "a: b: c". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(": ");
}
