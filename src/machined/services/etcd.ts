// etcd: the Kubernetes control plane's store, on control-plane machines
// only, run from the image's etcd (Debian's etcd-server). A control plane
// that is not bootstrapped says so (Skipped, with the command to run): the
// first etcd member is founded by `kilnctl bootstrap` on exactly one node.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { cgroupPaths, etcdPaths } from "../../machinery/paths.js";
import { notBootstrapped, onWorker } from "../../machinery/skip-reasons.js";
import { localAddresses } from "../apid-tls.js";
import { networkAddressed } from "./network-addressed.js";
import { httpHealth } from "../health/checks.js";
import type { MachineContext, ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { etcdArgs, etcdCa, type EtcdMember, type EtcdPaths, writeEtcdCerts } from "./etcd-config.js";
import { nodeIp } from "./kubelet-config.js";
import { serviceEnv } from "./service-env.js";

/** Whether this node holds an etcd member already (its data directory has one). */
export function hasMember(p: EtcdPaths = etcdPaths): boolean {
  return existsSync(`${p.dataDir}/member`);
}

/** Whether this node was bootstrapped (it founds the cluster) or already holds a member. */
export function bootstrapped(p: EtcdPaths = etcdPaths): boolean {
  return hasMember(p) || existsSync(p.bootstrapMark);
}

/** Why etcd does not run here, or undefined when it does. */
export function etcdSkip(m: MachineContext, p: EtcdPaths = etcdPaths): string | undefined {
  if (m.config?.machine.type !== "controlplane") return `${onWorker}: only control planes run etcd`;
  if (!existsSync(m.paths.bin("etcd"))) return `no etcd binary in the image (${m.paths.bin("etcd")})`;
  if (!etcdCa(m.config)) return "cluster.etcd.ca (with its key) is not in the config: kilnctl gen config writes it into controlplane.yaml";
  if (!bootstrapped(p)) return `${notBootstrapped}: run \`kilnctl bootstrap\` on one control-plane node (once for the cluster)`;
  return undefined;
}

/** This node as an etcd member: its hostname, and its node IP (else its first address that is not loopback). */
export function etcdMember(m: MachineContext, addrs = localAddresses()): EtcdMember {
  const others = addrs.filter((a) => a !== "127.0.0.1" && a !== "::1" && !a.startsWith("fe80:"));
  const address = (m.config && nodeIp(m.config, addrs)) ?? others.find((a) => !a.includes(":")) ?? others[0] ?? "127.0.0.1";
  return { name: hostname(), address };
}

export const etcd: ServiceDefinition = {
  id: "etcd",
  dependsOn: [],
  skip: (m) => etcdSkip(m),
  // Its member URLs and certificate hold the node's address.
  conditions: [networkAddressed()],
  prepare: async (m) => {
    // Certificates are issued anew at every start: the node's addresses may have changed.
    await writeEtcdCerts(etcdCa(m.config)!, etcdMember(m));
  },
  run: (m) =>
    processRunner([m.paths.bin("etcd"), ...etcdArgs(etcdMember(m), !hasMember())], {
      env: serviceEnv(m),
      // Below the kubelet and containerd: losing etcd loses the cluster's state.
      oomScoreAdj: -998,
      cgroup: cgroupPaths.etcd,
    }, m),
  restart: "forever",
  health: { check: httpHealth(`http://127.0.0.1:${etcdPaths.metricsPort}/health`), initialDelayMs: 1000, intervalMs: 5000 },
};
