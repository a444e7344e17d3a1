// The flags of the API server, controller manager and scheduler on a
// control-plane machine. They name the files control-plane-pki.ts writes;
// the paths and ports come in as ControlPlanePaths so tests run the real
// programs in a directory and on ports of their own.
import type { ClusterNetwork } from "../../config/cluster-network.js";
import { controlPlanePaths } from "../../machinery/paths.js";
import { type ControlPlanePaths, controlPlaneFiles } from "./control-plane-pki.js";

/** The service-account token issuer (and audience): the in-cluster name of the API server, as kubeadm uses. */
export const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local";

/** `--name=value` for each entry, in order. */
function flags(entries: Record<string, string | number | boolean>): string[] {
  return Object.entries(entries).map(([k, v]) => `--${k}=${v}`);
}

/** kube-apiserver's argv (after the program) for a node advertised as `advertise`. */
export function apiServerArgs(advertise: string, network: ClusterNetwork, p: ControlPlanePaths = controlPlanePaths, f = controlPlaneFiles(p.pki)): string[] {
  return flags({
    // Where kubelets, pods (the `kubernetes` Service's endpoint) and other control planes reach this one.
    "advertise-address": advertise,
    "secure-port": p.apiServerPort,
    // Off: everything goes through TLS and authorization (1.20 still has the flag).
    "insecure-port": 0,
    // The local member only: it is on every control plane, and a remote one would tie this node's API to another's health.
    "etcd-servers": `https://127.0.0.1:${p.etcdClientPort}`,
    "etcd-cafile": f.etcdCa,
    "etcd-certfile": f.etcdClientCert,
    "etcd-keyfile": f.etcdClientKey,
    "service-cluster-ip-range": network.serviceSubnet,
    "client-ca-file": f.ca,
    "tls-cert-file": f.apiServerCert,
    "tls-private-key-file": f.apiServerKey,
    // Kubelets' serving certificates are signed by the cluster CA (serverTLSBootstrap, approved by
    // kiln's CSR approver for the names and addresses of Nodes it knows): logs, exec and
    // port-forward reach a kubelet the API server has verified (the vm tier's cluster test).
    "kubelet-certificate-authority": f.ca,
    "kubelet-client-certificate": f.kubeletClientCert,
    "kubelet-client-key": f.kubeletClientKey,
    // Nodes' hostnames need not resolve from a control plane; their addresses do.
    "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
    // Kubelets join with cluster.token (a bootstrap token), then get certificates of their own.
    "enable-bootstrap-token-auth": true,
    // Node: a kubelet reads only what its pods need; RBAC for everyone else.
    "authorization-mode": "Node,RBAC",
    // A kubelet may change only its own Node and its pods.
    "enable-admission-plugins": "NodeRestriction",
    "service-account-key-file": f.serviceAccountPub,
    "service-account-signing-key-file": f.serviceAccountKey,
    "service-account-issuer": serviceAccountIssuer,
    // Front proxy: the API server's identity toward aggregated API servers, and whom it trusts to proxy users to it.
    "proxy-client-cert-file": f.frontProxyClientCert,
    "proxy-client-key-file": f.frontProxyClientKey,
    "requestheader-client-ca-file": f.frontProxyCa,
    "requestheader-allowed-names": "front-proxy-client",
    "requestheader-username-headers": "X-Remote-User",
    "requestheader-group-headers": "X-Remote-Group",
    "requestheader-extra-headers-prefix": "X-Remote-Extra-",
    // CNI plugins, kube-proxy and the like run privileged pods.
    "allow-privileged": true,
    // --anonymous-auth stays at its default (true): /readyz, /healthz and /livez answer anonymous
    // requests (system:public-info-viewer), which is what machined's health check and load balancers ask.
  });
}

/** kube-controller-manager's argv: node CIDRs from the pod subnet, the cluster CA signs kubelets' certificates. */
export function controllerManagerArgs(network: ClusterNetwork, p: ControlPlanePaths = controlPlanePaths, f = controlPlaneFiles(p.pki)): string[] {
  return flags({
    kubeconfig: f.controllerManagerKubeconfig,
    "authentication-kubeconfig": f.controllerManagerKubeconfig,
    "authorization-kubeconfig": f.controllerManagerKubeconfig,
    "client-ca-file": f.ca,
    // Its HTTPS (self-signed serving certificate) on loopback only: /healthz for machined; the insecure port off.
    "bind-address": "127.0.0.1",
    "secure-port": p.controllerManagerPort,
    port: 0,
    // Each node gets a /24 of the pod subnet (kiln's CNI routes between them).
    "allocate-node-cidrs": true,
    "cluster-cidr": network.podSubnet,
    "node-cidr-mask-size": 24,
    "service-cluster-ip-range": network.serviceSubnet,
    // Signs kubelets' client and serving certificates (CSRs approved for bootstrap tokens).
    "cluster-signing-cert-file": f.ca,
    "cluster-signing-key-file": f.caKey,
    // Put into every service-account token secret, so pods trust the API server.
    "root-ca-file": f.ca,
    "service-account-private-key-file": f.serviceAccountKey,
    // Each controller acts as its own service account, with its own RBAC role.
    "use-service-account-credentials": true,
    // The defaults and the two that keep bootstrap tokens working: cluster-info signing and expiry.
    controllers: "*,bootstrapsigner,tokencleaner",
    // Several control planes: one active controller manager at a time.
    ...leaderElection,
  });
}

/**
 * Leader election with room for a slow machine: the defaults (15 s lease,
 * 10 s to renew) made the controller manager lose its lease and exit on a
 * loaded VM under TCG, stopping the endpoints controller for a minute. A
 * lease of 60 s means a dead leader is replaced within a minute.
 */
const leaderElection = {
  "leader-elect": true,
  "leader-elect-lease-duration": "60s",
  "leader-elect-renew-deadline": "40s",
  "leader-elect-retry-period": "5s",
} as const;

/** kube-scheduler's argv. */
export function schedulerArgs(p: ControlPlanePaths = controlPlanePaths, f = controlPlaneFiles(p.pki)): string[] {
  return flags({
    kubeconfig: f.schedulerKubeconfig,
    "authentication-kubeconfig": f.schedulerKubeconfig,
    "authorization-kubeconfig": f.schedulerKubeconfig,
    "client-ca-file": f.ca,
    "bind-address": "127.0.0.1",
    "secure-port": p.schedulerPort,
    port: 0,
    ...leaderElection,
  });
}
