// The cluster's networks with their defaults filled in, and the addresses
// derived from them: what the API server, controller manager, kubelet,
// kube-proxy and the CNI config all read, so they agree.
import { ipv4Number } from "./formats.js";
import type { MachineConfig } from "./schema.js";

export interface ClusterNetwork {
  /** The pods' network; the controller manager gives each node a /24 of it. */
  podSubnet: string;
  /** The Services' virtual IPs. */
  serviceSubnet: string;
  /** Who provides the pod network: kiln's bridge and host routes, or the user. */
  cni: "kiln" | "none";
  /** The `kubernetes` Service's ClusterIP: the service subnet's first address (in the API server's certificate). */
  apiServiceIp: string;
  /** Cluster DNS's ClusterIP: the service subnet's tenth address (kubelet's clusterDNS default). */
  dnsServiceIp: string;
}

export const defaultPodSubnet = "10.244.0.0/16";
export const defaultServiceSubnet = "10.96.0.0/12";

/** The cluster's networks from a config, defaults where it says nothing. */
export function clusterNetwork(config: MachineConfig | undefined): ClusterNetwork {
  const n = config?.cluster?.network;
  const serviceSubnet = n?.serviceSubnets?.[0] ?? defaultServiceSubnet;
  return {
    podSubnet: n?.podSubnets?.[0] ?? defaultPodSubnet,
    serviceSubnet,
    cni: n?.cni ?? "kiln",
    apiServiceIp: addressInSubnet(serviceSubnet, 1),
    dnsServiceIp: addressInSubnet(serviceSubnet, 10),
  };
}

/** The `n`th address of an IPv4 network (10.96.0.0/12, 10 → 10.96.0.10). */
export function addressInSubnet(cidr: string, n: number): string {
  const [address = ""] = cidr.split("/");
  const base = ipv4Number(address) + n;
  return [24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join(".");
}
