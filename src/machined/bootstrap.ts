// `kilnctl bootstrap`: one control-plane node founds the cluster's etcd. Every
// refusal says what to do instead; a second bootstrap of the same node (or of
// a node that already holds an etcd member) is refused, never repeated.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { MachineConfig } from "../config/schema.js";
import { etcdPaths } from "../machinery/paths.js";
import { refused } from "./errors.js";
import { localAddresses } from "./apid-tls.js";
import { type EtcdPaths, etcdCa, hasMember } from "./services/etcd-config.js";
import { findClusterEtcd, readJoinMark } from "./services/etcd-join.js";

/** Refuses a bootstrap this machine cannot do, naming why and what to do. */
export function checkBootstrap(config: MachineConfig | undefined, etcdBinary: string, p: EtcdPaths = etcdPaths): void {
  if (!config) throw refused("this machine has no config yet: apply a controlplane config (kilnctl gen config's controlplane.yaml), then bootstrap");
  if (config.machine.type !== "controlplane") throw refused("this machine is a worker: bootstrap one control-plane node (machine.type: controlplane)");
  if (!existsSync(etcdBinary)) throw refused(`this image has no etcd (${etcdBinary}): build it with kilnctl image build`);
  if (!etcdCa(config)) throw refused("cluster.etcd.ca with its key is not in this machine's config: kilnctl gen config writes it into controlplane.yaml");
  if (hasMember(p)) throw refused("etcd on this node already holds a member of a cluster: a cluster is bootstrapped once; other control planes join it");
  if (existsSync(p.bootstrapMark)) {
    throw refused(`this node was bootstrapped already (${statSync(p.bootstrapMark).mtime.toISOString()}): a cluster is bootstrapped once; see kilnctl services for etcd`);
  }
  const joined = readJoinMark(p);
  if (joined) throw refused(`this node joined the cluster's etcd already (${joined.joinedAt}): a cluster is bootstrapped once; see kilnctl services for etcd`);
}

/** Refuses a bootstrap when another node's etcd answers already: a second founding would split the cluster in two. */
export async function checkNoCluster(config: MachineConfig, p: Pick<EtcdPaths, "clientPort"> = etcdPaths, own = localAddresses()): Promise<void> {
  const found = await findClusterEtcd(config, own, p);
  if ("members" in found) {
    const names = found.listed.map((m) => m.name || m.ID).sort().join(", ");
    found.members.close();
    throw refused(`the cluster's etcd answers already at ${found.members.endpoint} (members: ${names}): it was bootstrapped on another node, and this control plane joins it by itself`);
  }
}

/** Records that this node founds the cluster (EPHEMERAL: it lasts as long as etcd's data). */
export function markBootstrap(p: EtcdPaths = etcdPaths, now = new Date()): void {
  mkdirSync(dirname(p.bootstrapMark), { recursive: true });
  writeFileSync(p.bootstrapMark, `${now.toISOString()}\n`, { flag: "wx" });
}
