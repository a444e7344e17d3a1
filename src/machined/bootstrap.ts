// `kilnctl bootstrap`: one control-plane node founds the cluster's etcd. Every
// refusal says what to do instead; a second bootstrap of the same node (or of
// a node that already holds an etcd member) is refused, never repeated.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { MachineConfig } from "../config/schema.js";
import { etcdPaths } from "../machinery/paths.js";
import { refused } from "./errors.js";
import { type EtcdPaths, etcdCa } from "./services/etcd-config.js";
import { hasMember } from "./services/etcd.js";

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
}

/** Records that this node founds the cluster (EPHEMERAL: it lasts as long as etcd's data). */
export function markBootstrap(p: EtcdPaths = etcdPaths, now = new Date()): void {
  mkdirSync(dirname(p.bootstrapMark), { recursive: true });
  writeFileSync(p.bootstrapMark, `${now.toISOString()}\n`, { flag: "wx" });
}
