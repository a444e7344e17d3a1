// kube-proxy's KubeProxyConfiguration, kubeconfig and flags, from the machine config.
import YAML from "yaml";
import { clusterNetwork } from "../../config/cluster-network.js";
import type { MachineConfig } from "../../config/schema.js";
import { kubeletPaths, kubeProxyPaths } from "../../machinery/paths.js";

/**
 * The KubeProxyConfiguration: iptables mode for the pod subnet, health and
 * metrics on loopback only. conntrack: zeros leave nf_conntrack_max, the
 * hash size and the TCP timeouts to the kernel (its own sizing from memory):
 * kube-proxy would otherwise write them, and the hash size
 * (/sys/module/nf_conntrack/parameters/hashsize) and nf_conntrack_max are
 * global, which the sandbox refuses.
 */
export function kubeProxyConfigFile(config: MachineConfig, hostname: string): string {
  return YAML.stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig: kubeProxyPaths.kubeconfig },
    clusterCIDR: clusterNetwork(config).podSubnet,
    hostnameOverride: hostname,
    bindAddress: "0.0.0.0",
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  });
}

/**
 * kube-proxy's kubeconfig: the control plane, the cluster CA kubelet uses,
 * and its own certificate files. Named as files (not inline data), client-go
 * reloads them (transport's loadTLSFiles sets ReloadTLSFiles; checked every
 * 5 minutes), so a renewed certificate needs no kube-proxy restart.
 */
export function kubeProxyKubeconfig(config: MachineConfig): string {
  const server = config.cluster?.controlPlane?.endpoint ?? "https://127.0.0.1:6443";
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kiln", cluster: { server, "certificate-authority": kubeletPaths.ca } }],
    users: [{ name: "kube-proxy", user: { "client-certificate": kubeProxyPaths.cert, "client-key": kubeProxyPaths.key } }],
    contexts: [{ name: "kube-proxy", context: { cluster: "kiln", user: "kube-proxy" } }],
    "current-context": "kube-proxy",
  });
}

/** kube-proxy's flags: everything is in the config file. */
export function kubeProxyArgs(): string[] {
  return [`--config=${kubeProxyPaths.config}`];
}
