// DHCP for a cluster's bridge: Debian's dnsmasq, bound to the bridge alone,
// no DNS (--port=0), serving only fixed leases (each node's MAC → its
// address and hostname), so addresses stay the same across reboots. It runs
// as a daemon with its pid file, lease file and log in the cluster's state
// directory, and no configuration but ours (--conf-file=/dev/null).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import type { ClusterPlan } from "./cluster-plan.js";
import { isAlive, procRef, type ProcRef, signalProc } from "../sandbox/proc.js";
import { sleep } from "../sandbox/sleep.js";

export const DNSMASQ = "dnsmasq";

export interface DnsmasqFiles {
  pidFile: string;
  leaseFile: string;
  logFile: string;
}

/** dnsmasq's arguments for `plan`. */
export function dnsmasqArgs(plan: ClusterPlan, files: DnsmasqFiles): string[] {
  const network = plan.subnet.split("/")[0]!;
  return [
    "--conf-file=/dev/null",
    `--interface=${plan.bridge}`,
    "--bind-interfaces",
    "--except-interface=lo",
    "--port=0",
    "--no-hosts",
    "--no-resolv",
    "--dhcp-authoritative",
    // root keeps access to the state directory (0700) for the lease file
    "--user=root",
    `--dhcp-range=${network},static,255.255.255.0,12h`,
    ...plan.nodes.map((n) => `--dhcp-host=${n.mac},${n.address},${n.name},infinite`),
    `--dhcp-leasefile=${files.leaseFile}`,
    `--pid-file=${files.pidFile}`,
    `--log-facility=${files.logFile}`,
    "--log-dhcp",
  ];
}

/** Throws naming the package when dnsmasq is not installed. */
export function requireDnsmasq(): void {
  try {
    execFileSync(DNSMASQ, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("dnsmasq is not installed: apt-get install dnsmasq-base (the cluster's DHCP server)");
  }
}

/** Starts dnsmasq as a daemon; resolves with the daemon once its pid file names it. */
export async function startDnsmasq(plan: ClusterPlan, files: DnsmasqFiles): Promise<ProcRef> {
  requireDnsmasq();
  try {
    execFileSync(DNSMASQ, dnsmasqArgs(plan, files), { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  } catch (err) {
    throw new Error(`starting dnsmasq on ${plan.bridge}: ${String((err as { stderr?: Buffer }).stderr ?? "").trim() || (err as Error).message}`, { cause: err });
  }
  for (let i = 0; i < 50; i++) {
    const ref = readPid(files.pidFile);
    if (ref) return ref;
    await sleep(100);
  }
  throw new Error(`dnsmasq started but wrote no pid file (${files.pidFile})`);
}

/** The live process the pid file names, if any. */
export function readPid(pidFile: string): ProcRef | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? procRef(pid) : undefined;
}

/** Ends dnsmasq (TERM, then KILL); a process already gone is fine. */
export async function stopDnsmasq(ref: ProcRef | undefined): Promise<void> {
  if (!isAlive(ref)) return;
  signalProc(ref, "SIGTERM");
  for (let i = 0; i < 30 && isAlive(ref); i++) await sleep(100);
  signalProc(ref, "SIGKILL");
  for (let i = 0; i < 30 && isAlive(ref); i++) await sleep(100);
  if (isAlive(ref)) throw new Error(`dnsmasq (pid ${ref!.pid}) is still running after SIGKILL`);
}
