// What `cluster create --controlplanes C --workers W` does once the machines
// are up, in two hooks that other work fills in. Both receive the cluster as
// the provisioner reports it (nodes, roles, fixed addresses) and the
// kilnconfig context that reaches it.
import type { KilnContext } from "../config/kilnconfig.js";
import type { ClusterInfo } from "../provision/provisioner.js";

export interface ClusterHookContext {
  cluster: ClusterInfo;
  /** The os:admin context merged into the user's kilnconfig (named after the cluster). */
  context: KilnContext;
  /** Where that kilnconfig is. */
  kilnconfig: string;
  progress(step: string): void;
}

/**
 * Runs once every machine's API has answered. It will bootstrap the first
 * control plane (Bootstrap on cluster.nodes[0], a control plane) and write
 * the cluster's kubeconfig; for now it does nothing.
 */
export async function afterMachinesUp(_hook: ClusterHookContext): Promise<void> {}

/**
 * `--wait`: will wait until `kilnctl health` holds for the cluster (etcd,
 * the control plane, every node Ready) or `timeoutMs` passes. For now the
 * machine APIs answering, which create has already waited for, is all it
 * checks.
 */
export async function waitForClusterHealth(_hook: ClusterHookContext, _timeoutMs: number): Promise<void> {}
