// `cluster show NAME` for a multi-node cluster: its network and every node
// with its role, fixed address, MAC and whether its QEMU runs.
import { apidPort } from "../../machinery/apid.js";
import type { ClusterInfo, ClusterNodeInfo } from "../provisioner.js";
import { checkName } from "../sandbox/name.js";
import { isAlive } from "../sandbox/proc.js";
import { readRecord } from "../sandbox/state.js";
import type { PlannedNode } from "./cluster-plan.js";
import { type ClusterLayout, type ClusterRecord, clusterLayout, clusterNames, nodeLayout } from "./cluster-state.js";
import type { VmRecord } from "./state.js";

/** Every cluster, or just `name` (empty when unknown). */
export function listClusters(name?: string): ClusterInfo[] {
  if (name !== undefined) checkName(name);
  const names = name === undefined ? clusterNames() : [name];
  return names.flatMap((n) => {
    const layout = clusterLayout(n);
    const rec = readRecord<ClusterRecord>(layout);
    return rec ? [clusterInfo(rec, layout)] : [];
  });
}

/** The public view of a cluster record. */
export function clusterInfo(rec: ClusterRecord, layout: ClusterLayout): ClusterInfo {
  const { plan } = rec;
  return {
    name: rec.name,
    provisioner: "qemu",
    status: rec.status,
    bridge: plan.bridge,
    subnet: plan.subnet,
    hostAddress: plan.hostAddress,
    image: rec.image,
    stateDir: layout.dir,
    nodes: plan.nodes.map((n) => nodeInfo(n, layout)),
  };
}

/** A planned node with its VM's live status. */
function nodeInfo(n: PlannedNode, layout: ClusterLayout): ClusterNodeInfo {
  const vm = nodeLayout(layout, n.name);
  const rec = readRecord<VmRecord>(vm);
  const running = isAlive(rec?.qemu);
  return {
    name: n.name,
    role: n.role,
    address: n.address,
    mac: n.mac,
    endpoint: `${n.address}:${apidPort}`,
    status: running ? "running" : rec ? "stopped" : "missing",
    pid: running ? (rec?.pid ?? 0) : 0,
    stateDir: vm.dir,
    consoleLog: vm.consoleLog,
  };
}
