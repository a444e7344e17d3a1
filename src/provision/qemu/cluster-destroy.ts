// `cluster destroy NAME` for a multi-node cluster: every VM stopped, dnsmasq
// ended, the taps and the bridge removed, the state directory gone. Each
// step works on whatever is left, so it finishes what a failed create or an
// interrupted destroy started; links are found by the name they derive from
// the cluster's, even without its state.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { isAlive, type ProcRef, processesWithArg } from "../sandbox/proc.js";
import { checkName } from "../sandbox/name.js";
import { readRecord } from "../sandbox/state.js";
import { type ClusterLayout, type ClusterRecord, clusterLayout, nodeLayout } from "./cluster-state.js";
import { stopDnsmasq } from "./dnsmasq.js";
import { stopVm } from "./destroy.js";
import { removeClusterLinks } from "./host-net.js";

export interface ClusterStopOptions {
  /** How long each VM may take to power off after Shutdown (0: end QEMU at once). Default 10000. */
  graceMs?: number;
  onProgress?: (step: string) => void;
}

/** Removes everything of cluster `name`; resolves with whether anything was there. */
export async function destroyCluster(name: string, opts: ClusterStopOptions = {}): Promise<boolean> {
  checkName(name);
  const layout = clusterLayout(name);
  const rec = readRecord<ClusterRecord>(layout);
  const found = existsSync(layout.dir);
  const progress = opts.onProgress ?? (() => {});
  const nodes = nodeDirs(layout);
  if (nodes.length) progress(`stopping ${nodes.join(", ")}`);
  await Promise.all(nodes.map((n) => stopVm(nodeLayout(layout, n), { graceMs: opts.graceMs ?? 10_000 })));
  progress("stopping dnsmasq");
  await Promise.all(dnsmasqsOf(rec, layout).map((d) => stopDnsmasq(d)));
  progress("removing the bridge and taps");
  const links = removeClusterLinks(name);
  progress("removing state");
  rmSync(layout.dir, { recursive: true, force: true });
  return found || links.length > 0;
}

/** The node directories present. */
function nodeDirs(layout: ClusterLayout): string[] {
  try {
    return readdirSync(layout.nodes).sort();
  } catch {
    return [];
  }
}

/**
 * The cluster's dnsmasqs: as recorded (a PID with its start time), and every
 * process started with the cluster's pid file path, which is unique to its
 * state directory: a create cut short before dnsmasq wrote its pid file, or
 * before the record named it, leaves one only its arguments name.
 */
function dnsmasqsOf(rec: ClusterRecord | undefined, layout: ClusterLayout): ProcRef[] {
  const byArgs = processesWithArg(`--pid-file=${layout.pidFile}`);
  const recorded = rec?.dnsmasq;
  return isAlive(recorded) && !byArgs.some((r) => r.pid === recorded!.pid) ? [recorded!, ...byArgs] : byArgs;
}
