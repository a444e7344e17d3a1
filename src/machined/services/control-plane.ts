// What the API server, controller manager and scheduler share: when they do
// not run on this machine (and why), and the node they run on.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { clusterNetwork } from "../../config/cluster-network.js";
import { onWorker } from "../../machinery/skip-reasons.js";
import { localAddresses } from "../apid-tls.js";
import type { MachineContext } from "../service.js";
import { etcdMember } from "./etcd.js";
import { apiServerSans, type ControlPlaneSecrets, controlPlaneSecrets } from "./control-plane-pki.js";

/** Why `program` (a control-plane service) does not run here, or undefined when it does. */
export function controlPlaneSkip(m: MachineContext, program: string): string | undefined {
  if (m.config?.machine.type !== "controlplane") return `${onWorker}: only control planes run ${program}`;
  if (!existsSync(m.paths.bin(program))) return `no ${program} binary in the image (${m.paths.bin(program)})`;
  const s = controlPlaneSecrets(m.config);
  if ("missing" in s) return `${s.missing}: kilnctl gen config writes it into controlplane.yaml`;
  return undefined;
}

/** The config's control-plane secrets; throws naming what is missing (skip said so before). */
export function secretsOf(m: MachineContext): ControlPlaneSecrets {
  const s = controlPlaneSecrets(m.config);
  if ("missing" in s) throw new Error(s.missing);
  return s;
}

/** The API server's certificate names on this node: its hostname and addresses, the endpoint, machine.certSANs. */
export function nodeApiServerSans(m: MachineContext, addrs = localAddresses()): string[] {
  const endpoint = m.config?.cluster?.controlPlane?.endpoint;
  return apiServerSans({
    apiServiceIp: clusterNetwork(m.config).apiServiceIp,
    hostname: hostname(),
    addresses: [etcdMember(m, addrs).address, ...addrs],
    ...(endpoint ? { endpoint } : {}),
    ...(m.config?.machine.certSANs ? { certSANs: m.config.machine.certSANs } : {}),
  });
}
