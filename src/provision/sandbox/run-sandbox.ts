// Runs the sandbox once: unshare → node stage1-sandbox.cjs ROOTFS PLATFORM,
// which pivots into the rootfs and execs /sbin/init (machined). Finds PID 1
// (unshare's child), brings its loopback up, points the state dir's socket
// link into its root, and resolves when it is gone.
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync, renameSync, symlinkSync } from "node:fs";
import { promisify } from "node:util";
import { sleep } from "./sleep.js";
import { childrenOf, type ProcRef, procRef } from "./proc.js";
import type { PidOneExit } from "./restart.js";
import { type MachineRecord, machinedSocket, type StateLayout } from "./state.js";

const run = promisify(execFile);

/** The namespaces a sandbox gets; --kill-child takes PID 1 down with unshare. */
export const unshareFlags = ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--kill-child"];

/** The environment PID 1 starts with: nothing of the host's but a PATH. */
export const sandboxEnv = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KILN_PLATFORM=sandbox"];

/**
 * argv for one start of the sandbox. `env -i` sets PID 1's environment
 * exactly: whatever spawns us (a test runner adding NODE_OPTIONS to every
 * child, say) must not reach machined, whose root has none of the host's files.
 */
export function sandboxArgv(rec: Pick<MachineRecord, "rootfs" | "stage1">, layout: StateLayout): string[] {
  return ["unshare", ...unshareFlags, "env", "-i", ...sandboxEnv, process.execPath, rec.stage1, rec.rootfs, layout.platform];
}

export interface RunHooks {
  /** PID 1 exists (called before it is set up). */
  started(pidOne: ProcRef): void;
  log(message: string): void;
}

/** Starts the sandbox and resolves with how PID 1 ended. */
export async function runSandbox(rec: MachineRecord, layout: StateLayout, hooks: RunHooks): Promise<PidOneExit> {
  const [cmd, ...args] = sandboxArgv(rec, layout);
  const out = openSync(layout.consoleLog, "a");
  const child = spawn(cmd!, args, { stdio: ["ignore", out, out] });
  closeSync(out);
  const exited = new Promise<PidOneExit>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", (err) => {
      hooks.log(`starting unshare: ${err.message}`);
      resolve({ code: 127, signal: null });
    });
  });
  const pidOne = child.pid ? await findPidOne(child.pid, exited) : undefined;
  if (pidOne) {
    hooks.started(pidOne);
    await setUp(pidOne, layout, hooks);
  }
  return exited;
}

/** Polls for unshare's only child (PID 1 of the new namespace) until unshare exits. */
async function findPidOne(unsharePid: number, exited: Promise<unknown>): Promise<ProcRef | undefined> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (let i = 0; !done && i < 5000; i++) {
    const child = childrenOf(unsharePid)[0];
    const ref = child === undefined ? undefined : procRef(child);
    if (ref) return ref;
    await sleep(2);
  }
  return undefined;
}

/** Loopback up inside, and the socket link pointed at this PID 1's root. */
async function setUp(pidOne: ProcRef, layout: StateLayout, hooks: RunHooks): Promise<void> {
  linkSocket(layout, pidOne.pid);
  try {
    await run("nsenter", ["-t", String(pidOne.pid), "-n", "ip", "link", "set", "lo", "up"]);
  } catch (err) {
    hooks.log(`bringing loopback up in pid ${pidOne.pid}: ${(err as Error).message}`);
  }
}

/** Atomically points <stateDir>/machined.sock at /proc/<pid>/root/run/machined/machined.sock. */
export function linkSocket(layout: StateLayout, pid: number): void {
  const tmp = `${layout.socket}.${process.pid}.tmp`;
  symlinkSync(`/proc/${pid}/root${machinedSocket}`, tmp);
  renameSync(tmp, layout.socket);
}
