// The sandbox host program: `node dist/sandbox-host.cjs <stateDir>`, started
// detached by createMachine. It leases the machine's /30, runs the sandbox,
// records PID 1 in machine.json, starts it again when it rebooted (PID 1 died
// of SIGHUP) on the same address, and marks the machine stopped and gives the
// address back when it powered off or was killed. Each boot runs in the
// machine's own cgroup subtree (cgroup.ts), removed when the machine stops.
import { appendFileSync, rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import { apidEndpoint, sandboxRange } from "./addresses.js";
import { hostCgroupOf, removeCgroup, type SandboxCgroup } from "./cgroup.js";
import { acquireLease, type Lease, releaseLease } from "./leases.js";
import { afterExit } from "./restart.js";
import { runSandbox } from "./run-sandbox.js";
import { type ProcRef, procRef, signalProc } from "./proc.js";
import { readRecord, type StateLayout, stateLayout, updateRecord } from "./state.js";

/** What a stop request changes: the flag, and PID 1 to pass SIGTERM to. */
interface Control {
  stopping: boolean;
  pidOne?: ProcRef;
}

/** Runs the machine in `stateDir` until it stops. */
async function main(stateDir: string | undefined): Promise<void> {
  if (!stateDir) throw new Error("usage: sandbox-host <stateDir>");
  const layout = stateLayout(basename(stateDir), dirname(stateDir));
  const self = procRef(process.pid)!;
  updateRecord(layout, { host: self, stopReason: undefined });
  const ctl = control(layout);
  const lease = await leaseNetwork(layout, self);
  const cgroup = machineCgroup(layout);
  let reason: string;
  try {
    reason = await supervise(layout, lease, cgroup, ctl);
  } finally {
    await releaseLease(layout.dir, self).catch((err: unknown) => log(`giving back ${lease.network}: ${String(err)}`));
    if (cgroup) await removeCgroup(cgroup.dir).catch((err: Error) => log(`removing cgroup ${cgroup.dir}: ${err.message}`));
  }
  updateRecord(layout, { status: "stopped", pid: 0, pidOne: undefined, stopReason: reason, network: undefined, address: "", endpoint: "" });
  rmSync(layout.socket, { force: true });
  log(`stopped: ${reason}; gave back ${lease.network}`);
}

/** Leases the machine's /30 and records its address and apid endpoint. */
async function leaseNetwork(layout: StateLayout, self: ProcRef): Promise<Lease> {
  const rec = readRecord(layout)!;
  const lease = await acquireLease({ name: rec.name, stateDir: layout.dir, owner: self }, sandboxRange());
  updateRecord(layout, { network: lease, address: lease.address, endpoint: apidEndpoint(lease.address) });
  log(`network: ${lease.link} ${lease.hostAddress} <-> eth0 ${lease.address}/${lease.prefixLength}`);
  return lease;
}

/** The machine's cgroup subtree, or none (said in host.log) when the host has no cgroup2 mount. */
function machineCgroup(layout: StateLayout): SandboxCgroup | undefined {
  const cgroup = hostCgroupOf(readRecord(layout)!.name, layout.dir);
  log(cgroup ? `cgroup: ${cgroup.dir} (the root of the machine's cgroup namespace)` : "cgroup: the host has no cgroup2 mount; the sandbox shares the host's cgroups");
  return cgroup;
}

/** Stop requests: SIGTERM/SIGINT mark the machine stopping and pass SIGTERM to PID 1. */
function control(layout: StateLayout): Control {
  const ctl: Control = { stopping: false };
  const stop = (sig: string) => {
    log(`${sig}: stopping ${layout.dir}`);
    ctl.stopping = true;
    signalProc(ctl.pidOne, "SIGTERM");
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {});
  return ctl;
}

/** Starts the sandbox, again after each reboot; resolves with why it stopped. */
async function supervise(layout: StateLayout, lease: Lease, cgroup: SandboxCgroup | undefined, ctl: Control): Promise<string> {
  for (;;) {
    if (ctl.stopping) return "stopped on request";
    const rec = readRecord(layout)!;
    const exit = await runSandbox(rec, layout, lease, {
      stopping: () => ctl.stopping,
      started: (pidOne) => {
        ctl.pidOne = pidOne;
        if (ctl.stopping) signalProc(pidOne, "SIGTERM");
        updateRecord(layout, { pidOne, pid: pidOne.pid, status: "running" });
        log(`started: PID 1 is host pid ${pidOne.pid}`);
      },
      log,
    }, cgroup);
    ctl.pidOne = undefined;
    const next = afterExit(exit, { stopping: ctl.stopping, restarts: rec.restarts, now: Date.now() });
    if (next.t === "stop") return next.reason;
    log("PID 1 rebooted (SIGHUP): starting the sandbox again");
    appendFileSync(layout.consoleLog, "\n--- kiln sandbox: reboot ---\n\n");
    updateRecord(layout, { restarts: [...rec.restarts, Date.now()].slice(-10), status: "running", pid: 0 });
  }
}

/** One timestamped line on stdout (host.log). */
function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

main(process.argv[2]).catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  markFailed(process.argv[2], err);
  process.exitCode = 1;
});

/** Best effort: record that the host program failed. */
function markFailed(stateDir: string | undefined, err: unknown): void {
  if (!stateDir) return;
  try {
    const layout = stateLayout(basename(stateDir), dirname(stateDir));
    updateRecord(layout, { status: "stopped", pid: 0, stopReason: `host program failed: ${err instanceof Error ? err.message : String(err)}`, address: "", endpoint: "" });
  } catch {
    // Nothing more to do: the error is in host.log.
  }
}
