// Runs the sandbox once. `unshare --net --cgroup`, born in the machine's
// fresh cgroup subtree (cgroup.ts), makes its network and cgroup namespaces
// and holds them at a gate (a host shell blocked reading a line) while the
// host wires the network (veth.ts) and moves the gate into the subtree's
// leaf /init; the line opens the gate, which execs
// `unshare` for the other namespaces → node stage1-sandbox.cjs ROOTFS
// PLATFORM, which pivots into the rootfs and execs /sbin/init (machined).
// Then it finds PID 1 (unshare's child), points the state dir's socket link
// into its root, and resolves when it is gone. The link comes last, so a
// local API that answers means this boot's network is in place.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readlinkSync, renameSync, symlinkSync } from "node:fs";
import { bornIn, freshCgroup, initLeaf, movePid, type SandboxCgroup } from "./cgroup.js";
import type { Lease } from "./leases.js";
import { sleep } from "./sleep.js";
import { childrenOf, type ProcRef, procRef } from "./proc.js";
import type { PidOneExit } from "./restart.js";
import { type MachineRecord, machinedSocket, type StateLayout } from "./state.js";
import { setUpNetwork } from "./veth.js";

/** The namespaces the gate's exec adds to its network and cgroup namespaces; --kill-child takes PID 1 down with unshare. */
export const unshareFlags = ["--pid", "--fork", "--mount", "--uts", "--ipc", "--kill-child"];

/** The gate: wait for one line on stdin (none: the host gave up), then exec the rest with stdin from /dev/null. */
export const gateScript = 'read -r _ || exit 1; exec "$@" </dev/null';

/** The environment PID 1 starts with: nothing of the host's but a PATH. */
export const sandboxEnv = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KILN_PLATFORM=sandbox"];

/**
 * argv for one start of the sandbox. `env -i` sets PID 1's environment
 * exactly: whatever spawns us (a test runner adding NODE_OPTIONS to every
 * child, say) must not reach machined, whose root has none of the host's files.
 */
export function sandboxArgv(rec: Pick<MachineRecord, "rootfs" | "stage1">, layout: StateLayout, cgroupns = true): string[] {
  const gate = ["unshare", ...gateNamespaces(cgroupns).map((ns) => `--${ns}`), "--", "/bin/sh", "-c", gateScript, "kiln-net-gate"];
  return [...gate, "unshare", ...unshareFlags, "env", "-i", ...sandboxEnv, process.execPath, rec.stage1, rec.rootfs, layout.platform];
}

export interface RunHooks {
  /** PID 1 exists. */
  started(pidOne: ProcRef): void;
  /** Whether a stop was asked for: then the gate stays shut. */
  stopping(): boolean;
  log(message: string): void;
}

/** The namespaces the gate holds: the network's, and the cgroup's unless the host has no cgroup2. */
function gateNamespaces(cgroupns: boolean): string[] {
  return cgroupns ? ["net", "cgroup"] : ["net"];
}

/** Starts the sandbox on `lease`'s network, in `cgroup` when given, and resolves with how PID 1 ended. */
export async function runSandbox(rec: MachineRecord, layout: StateLayout, lease: Lease, hooks: RunHooks, cgroup?: SandboxCgroup): Promise<PidOneExit> {
  const started = await startChain(rec, layout, cgroup, hooks);
  if ("error" in started) return { code: null, signal: null, error: started.error };
  const { child } = started;
  child.stdin?.on("error", () => {});
  const exited = exitOf(child, hooks);
  if (!child.pid) return exited;
  const failed = await atGate(child.pid, lease, cgroup).then(() => undefined, (err: Error) => err.message);
  const error = failed ?? (hooks.stopping() ? "stopped on request before booting" : undefined);
  if (error) {
    child.stdin?.end();
    return { ...(await exited), error };
  }
  child.stdin?.end("boot\n");
  const pidOne = await findPidOne(child.pid, exited);
  if (pidOne) {
    hooks.started(pidOne);
    linkSocket(layout, pidOne.pid);
  }
  return exited;
}

/** Spawns the unshare chain (born in a fresh `cgroup` when given), output to the console log. */
async function startChain(rec: MachineRecord, layout: StateLayout, cgroup: SandboxCgroup | undefined, hooks: RunHooks): Promise<{ child: ChildProcess } | { error: string }> {
  const [cmd, ...args] = sandboxArgv(rec, layout, cgroup !== undefined);
  const out = openSync(layout.consoleLog, "a");
  const start = () => spawn(cmd!, args, { stdio: ["pipe", out, out] });
  try {
    if (cgroup) await freshCgroup(cgroup.mount, cgroup.dir, hooks.log);
    return { child: cgroup ? bornIn(cgroup.mount, cgroup.dir, start) : start() };
  } catch (err) {
    return { error: `preparing cgroup ${cgroup?.dir}: ${(err as Error).message}` };
  } finally {
    closeSync(out);
  }
}

/** At the gate: wait for its namespaces, wire the network, move it into the cgroup leaf PID 1 is born in. */
async function atGate(gatePid: number, lease: Lease, cgroup: SandboxCgroup | undefined): Promise<void> {
  await waitUnshared(gatePid, gateNamespaces(cgroup !== undefined));
  await setUpNetwork(gatePid, lease).catch((err: Error) => {
    throw new Error(`setting up the network: ${err.message}`, { cause: err });
  });
  if (cgroup) movePid(`${cgroup.dir}/${initLeaf}`, gatePid);
}

/** Polls until `pid` is in namespaces of its own (`unshare` has run), at most 5 s. */
async function waitUnshared(pid: number, namespaces: string[]): Promise<void> {
  const ns = (p: number | "self", kind: string) => readlinkSync(`/proc/${p}/ns/${kind}`);
  for (const end = Date.now() + 5000; namespaces.some((k) => ns(pid, k) === ns("self", k)); await sleep(2)) {
    if (Date.now() > end) throw new Error(`pid ${pid} did not unshare its ${namespaces.join(" and ")} namespaces within 5 s`);
  }
}

/** How the unshare chain ended (which is how PID 1 ended, once it ran). */
function exitOf(child: ChildProcess, hooks: RunHooks): Promise<PidOneExit> {
  return new Promise<PidOneExit>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", (err) => {
      hooks.log(`starting unshare: ${err.message}`);
      resolve({ code: 127, signal: null, error: `starting unshare: ${err.message}` });
    });
  });
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

/** Atomically points <stateDir>/machined.sock at /proc/<pid>/root/run/machined/machined.sock. */
export function linkSocket(layout: StateLayout, pid: number): void {
  const tmp = `${layout.socket}.${process.pid}.tmp`;
  symlinkSync(`/proc/${pid}/root${machinedSocket}`, tmp);
  renameSync(tmp, layout.socket);
}
