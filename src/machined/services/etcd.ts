// etcd: the Kubernetes control plane's store, on control-plane machines
// only, run from the image's etcd (Debian's etcd-server). The first member is
// founded by `kilnctl bootstrap` on exactly one node; every other control
// plane joins that cluster by itself (etcd-join.ts). Until one of the two
// happened, etcd waits, saying it is not bootstrapped and what to run.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { cgroupPaths, etcdPaths } from "../../machinery/paths.js";
import { onWorker } from "../../machinery/skip-reasons.js";
import { localAddresses } from "../apid-tls.js";
import { isNetworkAddress, networkAddressed } from "./network-addressed.js";
import { httpHealth } from "../health/checks.js";
import type { HealthCheck, MachineContext, ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { etcdArgs, etcdCa, type EtcdMember, type EtcdPaths, type EtcdStart, hasMember, writeEtcdCerts } from "./etcd-config.js";
import { etcdJoined, promoteSelf, readJoinMark } from "./etcd-join.js";
import { nodeIp } from "./kubelet-config.js";
import { serviceEnv } from "./service-env.js";

/** Why etcd does not run here, or undefined when it does. */
export function etcdSkip(m: MachineContext): string | undefined {
  if (m.config?.machine.type !== "controlplane") return `${onWorker}: only control planes run etcd`;
  if (!existsSync(m.paths.bin("etcd"))) return `no etcd binary in the image (${m.paths.bin("etcd")})`;
  if (!etcdCa(m.config)) return "cluster.etcd.ca (with its key) is not in the config: kilnctl gen config writes it into controlplane.yaml";
  return undefined;
}

/** How etcd starts on this node now: as its member, founding the cluster, or joining it. */
export function etcdStart(p: EtcdPaths = etcdPaths): EtcdStart {
  if (hasMember(p)) return { t: "member" };
  if (existsSync(p.bootstrapMark)) return { t: "found" };
  const mark = readJoinMark(p);
  if (mark) return { t: "join", initialCluster: mark.initialCluster };
  throw new Error("etcd was neither bootstrapped on this node nor joined to a cluster");
}

/** Healthy: /health answers and, on a node that joined, its learner was promoted to a voting member (tried at each check). */
function votingHealth(p: EtcdPaths = etcdPaths): HealthCheck {
  const local = httpHealth(`http://127.0.0.1:${p.metricsPort}/health`);
  return async (m, signal) => {
    await local(m, signal);
    const mark = readJoinMark(p);
    if (mark && !mark.promoted) await promoteSelf(m.config, mark, p);
  };
}

/** This node as an etcd member: its hostname, and its node IP (else its first address that is not loopback). */
export function etcdMember(m: MachineContext, addrs = localAddresses()): EtcdMember {
  const others = addrs.filter(isNetworkAddress);
  const address = (m.config && nodeIp(m.config, addrs)) ?? others.find((a) => !a.includes(":")) ?? others[0] ?? "127.0.0.1";
  return { name: hostname(), address };
}

export const etcd: ServiceDefinition = {
  id: "etcd",
  dependsOn: [],
  skip: (m) => etcdSkip(m),
  // Its member URLs and certificate hold the node's address; then it is founded here or joins.
  conditions: [networkAddressed(), etcdJoined((m) => etcdMember(m))],
  prepare: async (m) => {
    // Certificates are issued anew at every start: the node's addresses may have changed.
    await writeEtcdCerts(etcdCa(m.config)!, etcdMember(m));
  },
  run: (m) =>
    processRunner([m.paths.bin("etcd"), ...etcdArgs(etcdMember(m), etcdStart())], {
      env: serviceEnv(m),
      // Below the kubelet and containerd: losing etcd loses the cluster's state.
      oomScoreAdj: -998,
      cgroup: cgroupPaths.etcd,
    }, m),
  restart: "forever",
  health: { check: votingHealth(), initialDelayMs: 1000, intervalMs: 5000 },
};
