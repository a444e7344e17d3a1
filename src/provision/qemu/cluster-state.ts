// A multi-node cluster's state directory on the host:
//   <root>/<cluster>/cluster.json        the plan, dnsmasq's process, the image
//   <root>/<cluster>/dnsmasq.{pid,leases,log}
//   <root>/<cluster>/nodes/<node>/       each VM's directory, as a single VM's (state.ts)
// <root> is $KILN_CLUSTER_DIR, else /var/lib/kiln/clusters.
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClusterPlan } from "./cluster-plan.js";
import type { DnsmasqFiles } from "./dnsmasq.js";
import type { ProcRef } from "../sandbox/proc.js";
import { type VmLayout, vmLayout } from "./state.js";

/** Where clusters live: $KILN_CLUSTER_DIR, else /var/lib/kiln/clusters. */
export function clusterRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.KILN_CLUSTER_DIR ?? "/var/lib/kiln/clusters");
}

export interface ClusterLayout extends DnsmasqFiles {
  dir: string;
  record: string;
  nodes: string;
}

/** The layout of cluster `name` under `root`. */
export function clusterLayout(name: string, root = clusterRoot()): ClusterLayout {
  const dir = join(root, name);
  return {
    dir,
    record: join(dir, "cluster.json"),
    nodes: join(dir, "nodes"),
    pidFile: join(dir, "dnsmasq.pid"),
    leaseFile: join(dir, "dnsmasq.leases"),
    logFile: join(dir, "dnsmasq.log"),
  };
}

/** Node `node`'s VM directory in cluster `layout`. */
export function nodeLayout(layout: ClusterLayout, node: string): VmLayout {
  return vmLayout(node, layout.nodes);
}

/** cluster.json. */
export interface ClusterRecord {
  name: string;
  provisioner: "qemu";
  /** "creating" until every machine answered, then "running". */
  status: "creating" | "running";
  plan: ClusterPlan;
  image: string;
  dnsmasq?: ProcRef;
  createdAt: string;
}

/** The names of every cluster (directories under `root` holding a cluster.json), sorted. */
export function clusterNames(root = clusterRoot()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.filter((n) => existsSync(join(root, n, "cluster.json"))).sort();
}
