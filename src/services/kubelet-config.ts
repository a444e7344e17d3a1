// kubelet's config file, bootstrap kubeconfig and flags, from the machine config.
import { networkInterfaces } from "node:os";
import YAML from "yaml";
import type { MachineConfig } from "../config/schema.js";
import { containerdPaths } from "./containerd-config.js";

export const kubeletPaths = {
  config: "/etc/kubernetes/kubelet.yaml",
  kubeconfig: "/etc/kubernetes/kubeconfig",
  bootstrapKubeconfig: "/etc/kubernetes/bootstrap-kubeconfig",
  ca: "/etc/kubernetes/pki/ca.crt",
  certDir: "/var/lib/kubelet/pki",
  staticPods: "/etc/kubernetes/manifests",
  rootDir: "/var/lib/kubelet",
} as const;

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
    clusterDNS: config.machine.kubelet?.clusterDNS ?? ["10.96.0.10"],
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    rotateCertificates: true,
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

/** The node IP: the first local address inside machine.kubelet.nodeIP.validSubnets. */
export function nodeIp(config: MachineConfig, addrs = localAddresses()): string | undefined {
  const subnets = config.machine.kubelet?.nodeIP?.validSubnets ?? [];
  return subnets.length === 0 ? undefined : addrs.find((a) => subnets.some((s) => inSubnet(a, s)));
}

/** kubelet's flags; extraArgs override the defaults of the same name. */
export function kubeletArgs(config: MachineConfig, hostname: string, addrs?: string[]): string[] {
  const ip = nodeIp(config, addrs);
  const flags: Record<string, string> = {
    config: kubeletPaths.config,
    kubeconfig: kubeletPaths.kubeconfig,
    "bootstrap-kubeconfig": kubeletPaths.bootstrapKubeconfig,
    "cert-dir": kubeletPaths.certDir,
    "root-dir": kubeletPaths.rootDir,
    "container-runtime": "remote",
    "container-runtime-endpoint": `unix://${containerdPaths.socket}`,
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

/** Whether an IPv4 address lies in an IPv4 CIDR (IPv6 compares the prefix text). */
export function inSubnet(addr: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  if (!net || addr.includes(":") !== net.includes(":")) return false;
  if (addr.includes(":")) return addr.startsWith(net.replace(/::$/, ":"));
  const toInt = (ip: string) => ip.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(addr) & mask) === (toInt(net) & mask);
}
