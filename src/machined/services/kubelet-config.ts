// kubelet's config file, bootstrap kubeconfig and flags, from the machine config.
import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";
import YAML from "yaml";
import { clusterNetwork } from "../../config/cluster-network.js";
import type { MachineConfig } from "../../config/schema.js";
import type { KubernetesVersion } from "../../machinery/components.js";
import { containerdPaths, kubeletPaths } from "../../machinery/paths.js";

/** The KubeletConfiguration document. */
export function kubeletConfigFile(config: MachineConfig): string {
  return YAML.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: kubeletPaths.ca },
    },
    authorization: { mode: "Webhook" },
    cgroupDriver: "cgroupfs",
    clusterDomain: "cluster.local",
    clusterDNS: config.machine.kubelet?.clusterDNS ?? [clusterNetwork(config).dnsServiceIp],
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    rotateCertificates: true,
    // Its serving certificate comes from the cluster (a CSR that kiln's
    // approver on the control plane signs off for a node's own names and
    // addresses), so the API server can verify kubelet for logs and exec.
    serverTLSBootstrap: true,
    staticPodPath: kubeletPaths.staticPods,
  });
}

/** Bootstrap kubeconfig: the control plane endpoint, cluster CA and bootstrap token. */
export function bootstrapKubeconfig(config: MachineConfig): string {
  const server = config.cluster?.controlPlane?.endpoint ?? "https://127.0.0.1:6443";
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kiln", cluster: { server, "certificate-authority": kubeletPaths.ca } }],
    users: [{ name: "kubelet-bootstrap", user: { token: config.cluster?.token ?? "" } }],
    contexts: [{ name: "bootstrap", context: { cluster: "kiln", user: "kubelet-bootstrap" } }],
    "current-context": "bootstrap",
  });
}

/** The Node's name: kubelet's --hostname-override (the hostname, unless machine.kubelet.extraArgs sets it). */
export function nodeName(config: MachineConfig, hostname: string): string {
  return config.machine.kubelet?.extraArgs?.["hostname-override"] ?? hostname;
}

/**
 * The node IP: the first local address inside machine.kubelet.nodeIP.validSubnets
 * (none when no address is in them); without subnets, the address of the link
 * the default route leaves by (IPv4 first), as kubelet users expect.
 */
export function nodeIp(config: MachineConfig, addrs = localAddresses(), viaDefaultRoute = defaultRouteAddresses()): string | undefined {
  const subnets = config.machine.kubelet?.nodeIP?.validSubnets ?? [];
  if (subnets.length > 0) return addrs.find((a) => subnets.some((s) => inSubnet(a, s)));
  const candidates = viaDefaultRoute.filter((a) => addrs.includes(a));
  return candidates.find((a) => isIP(a) === 4) ?? candidates[0];
}

/** The IPv4 default route's link (the lowest metric), from /proc/net/route's text. */
export function defaultRouteLink(routeTable: string): string | undefined {
  const routes = routeTable
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    // Iface Destination Gateway Flags RefCnt Use Metric Mask …; a default route has destination and mask 0.
    .filter((f) => f.length >= 8 && f[1] === "00000000" && f[7] === "00000000")
    .map((f) => ({ link: f[0]!, metric: Number(f[6]) }))
    .sort((a, b) => a.metric - b.metric);
  return routes[0]?.link;
}

/** The addresses of the link the default route leaves by (none without a default route). */
export function defaultRouteAddresses(routeTable = readRouteTable(), links = networkInterfaces()): string[] {
  const link = defaultRouteLink(routeTable);
  return (link ? (links[link] ?? []) : []).filter((a) => !a.internal && !a.address.startsWith("fe80:")).map((a) => a.address);
}

function readRouteTable(): string {
  try {
    return readFileSync("/proc/net/route", "utf8");
  } catch {
    return "";
  }
}

/**
 * kubelet's flags; extraArgs override the defaults of the same name.
 * `--container-runtime=remote` is needed before 1.24 (else kubelet looks for
 * docker) and refused from 1.27 on, so it depends on the kubelet's version.
 */
export function kubeletArgs(config: MachineConfig, hostname: string, addrs?: string[], version?: KubernetesVersion, pauseImage?: string | null): string[] {
  const ip = nodeIp(config, addrs);
  const flags: Record<string, string> = {
    config: kubeletPaths.config,
    kubeconfig: kubeletPaths.kubeconfig,
    "bootstrap-kubeconfig": kubeletPaths.bootstrapKubeconfig,
    "cert-dir": kubeletPaths.certDir,
    "root-dir": kubeletPaths.rootDir,
    ...(version && version.minor < 27 ? { "container-runtime": "remote" } : {}),
    "container-runtime-endpoint": `unix://${containerdPaths.socket}`,
    // The image's own pause image: the kubelet's image GC never removes it.
    ...(pauseImage ? { "pod-infra-container-image": pauseImage } : {}),
    "hostname-override": hostname,
    ...(ip ? { "node-ip": ip } : {}),
    ...(config.machine.kubelet?.extraArgs ?? {}),
  };
  return Object.entries(flags).map(([k, v]) => `--${k}=${v}`);
}

/** IPv4 and IPv6 addresses of this machine's interfaces, loopback excluded. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal)
    .map((a) => a!.address);
}

/** Whether an address lies in a CIDR of the same family (node's BlockList does the arithmetic). */
export function inSubnet(addr: string, cidr: string): boolean {
  const [network, bits] = cidr.split("/");
  const family = isIP(addr);
  if (!network || family === 0 || isIP(network) !== family) return false;
  const list = new BlockList();
  list.addSubnet(network, Number(bits), family === 4 ? "ipv4" : "ipv6");
  return list.check(addr, family === 4 ? "ipv4" : "ipv6");
}
