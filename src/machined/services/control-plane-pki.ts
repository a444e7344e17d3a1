// The control plane's certificates and kubeconfigs, issued at every start of
// its services from the config's CAs (cluster.ca, cluster.etcd.ca,
// cluster.frontProxy.ca) and cluster.serviceAccount.key, into a tmpfs
// directory: nothing issued here outlives a boot, and a changed address or
// certSAN is in the next certificate.
import { endpointHost } from "../../machinery/endpoint.js";
import { createPublicKey } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { MachineConfig } from "../../config/schema.js";
import { controlPlanePaths } from "../../machinery/paths.js";
import { type CertAndKey, issueComponentCert } from "../../pki/certs.js";
import { decodeBase64Pem } from "../../pki/pem.js";
import { writeFilesAtomic } from "../atomic-write.js";
import { etcdCa } from "./etcd-config.js";

/** Where the control plane keeps its files, and its ports (controlPlanePaths; tests use their own). */
export interface ControlPlanePaths {
  pki: string;
  apiServerPort: number;
  controllerManagerPort: number;
  schedulerPort: number;
  etcdClientPort: number;
}

/** The files the control plane's flags name, under `dir`. */
export function controlPlaneFiles(dir: string = controlPlanePaths.pki) {
  const f = (name: string) => join(dir, name);
  return {
    ca: f("ca.crt"),
    caKey: f("ca.key"),
    apiServerCert: f("apiserver.crt"),
    apiServerKey: f("apiserver.key"),
    kubeletClientCert: f("apiserver-kubelet-client.crt"),
    kubeletClientKey: f("apiserver-kubelet-client.key"),
    etcdCa: f("etcd-ca.crt"),
    etcdClientCert: f("apiserver-etcd-client.crt"),
    etcdClientKey: f("apiserver-etcd-client.key"),
    frontProxyCa: f("front-proxy-ca.crt"),
    frontProxyClientCert: f("front-proxy-client.crt"),
    frontProxyClientKey: f("front-proxy-client.key"),
    serviceAccountKey: f("sa.key"),
    serviceAccountPub: f("sa.pub"),
    controllerManagerKubeconfig: f("controller-manager.kubeconfig"),
    schedulerKubeconfig: f("scheduler.kubeconfig"),
    adminKubeconfig: f("admin.kubeconfig"),
  };
}

/** What the control plane is issued from: the config's CAs (with keys) and the service-account key, all PEM. */
export interface ControlPlaneSecrets {
  ca: CertAndKey;
  etcdCa: CertAndKey;
  frontProxyCa: CertAndKey;
  serviceAccountKey: string;
}

/** The secrets of `config`, or what is missing (a sentence naming the field). */
export function controlPlaneSecrets(config: MachineConfig | undefined): ControlPlaneSecrets | { missing: string } {
  const c = config?.cluster;
  if (!c?.ca?.key) return { missing: "cluster.ca (with its key) is not in the config" };
  const etcd = etcdCa(config);
  if (!etcd) return { missing: "cluster.etcd.ca (with its key) is not in the config" };
  if (!c.serviceAccount?.key) return { missing: "cluster.serviceAccount.key is not in the config" };
  if (!c.frontProxy?.ca?.key) return { missing: "cluster.frontProxy.ca (with its key) is not in the config" };
  return {
    ca: { crt: decodeBase64Pem(c.ca.crt), key: decodeBase64Pem(c.ca.key) },
    etcdCa: etcd,
    frontProxyCa: { crt: decodeBase64Pem(c.frontProxy.ca.crt), key: decodeBase64Pem(c.frontProxy.ca.key) },
    serviceAccountKey: decodeBase64Pem(c.serviceAccount.key),
  };
}

/** The names a client may reach the API server by: the in-cluster Service, loopback, the node, the endpoint, machine.certSANs. */
export function apiServerSans(o: { apiServiceIp: string; hostname: string; addresses: string[]; endpoint?: string; certSANs?: string[] }): string[] {
  const service = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", o.apiServiceIp];
  const node = [o.hostname, ...o.addresses.filter((a) => !a.startsWith("fe80:"))];
  const endpoint = o.endpoint ? [endpointHost(o.endpoint)] : [];
  return [...new Set([...service, "localhost", "127.0.0.1", "::1", ...node, ...endpoint, ...(o.certSANs ?? [])])];
}

/** A kubeconfig holding its CA and client certificate (no files beside it), talking to `server`. */
export function kubeconfig(server: string, ca: string, user: string, client: CertAndKey): string {
  const b64 = (pem: string) => Buffer.from(pem).toString("base64");
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kiln", cluster: { server, "certificate-authority-data": b64(ca) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(client.crt), "client-key-data": b64(client.key) } }],
    contexts: [{ name: user, context: { cluster: "kiln", user } }],
    "current-context": user,
  });
}

/** The local API server's URL, which the controller manager, scheduler and machined talk to. */
export function localApiServer(p: ControlPlanePaths = controlPlanePaths): string {
  return `https://127.0.0.1:${p.apiServerPort}`;
}

type FileSpec = { path: string; data: string; mode: number };
const pub = (path: string, data: string): FileSpec => ({ path, data, mode: 0o644 });
const secret = (path: string, data: string): FileSpec => ({ path, data, mode: 0o600 });

/** A client certificate from `ca` for a Kubernetes user `cn` in groups `groups`. */
function client(ca: CertAndKey, cn: string, groups: string[] = []): Promise<CertAndKey> {
  return issueComponentCert(ca, { commonName: cn, organizations: groups, usages: ["client"] });
}

/** Writes `files` (keys 0600) into `dir`, which only root may enter. */
function writeAll(dir: string, files: FileSpec[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFilesAtomic(files);
}

/**
 * The API server's files: its serving certificate for `sans`, its client
 * certificates toward kubelets (system:masters, so it may exec and read logs),
 * etcd and aggregated API servers (front proxy), the service-account key and
 * its public half, and machined's admin kubeconfig.
 */
export async function writeApiServerPki(s: ControlPlaneSecrets, sans: string[], p: ControlPlanePaths = controlPlanePaths): Promise<void> {
  const [serving, kubelet, etcd, proxy, admin] = await Promise.all([
    issueComponentCert(s.ca, { commonName: "kube-apiserver", sans, usages: ["server"] }),
    client(s.ca, "kube-apiserver-kubelet-client", ["system:masters"]),
    client(s.etcdCa, "kube-apiserver-etcd-client"),
    client(s.frontProxyCa, "front-proxy-client"),
    client(s.ca, "kiln:machined", ["system:masters"]),
  ]);
  const f = controlPlaneFiles(p.pki);
  const saPub = createPublicKey(s.serviceAccountKey).export({ type: "spki", format: "pem" }).toString();
  writeAll(p.pki, [
    pub(f.ca, s.ca.crt),
    pub(f.apiServerCert, serving.crt),
    secret(f.apiServerKey, serving.key),
    pub(f.kubeletClientCert, kubelet.crt),
    secret(f.kubeletClientKey, kubelet.key),
    pub(f.etcdCa, s.etcdCa.crt),
    pub(f.etcdClientCert, etcd.crt),
    secret(f.etcdClientKey, etcd.key),
    pub(f.frontProxyCa, s.frontProxyCa.crt),
    pub(f.frontProxyClientCert, proxy.crt),
    secret(f.frontProxyClientKey, proxy.key),
    secret(f.serviceAccountKey, s.serviceAccountKey),
    pub(f.serviceAccountPub, saPub),
    secret(f.adminKubeconfig, kubeconfig(localApiServer(p), s.ca.crt, "kiln:machined", admin)),
  ]);
}

/**
 * The controller manager's files: its kubeconfig (system:kube-controller-manager),
 * the cluster CA's key (it signs kubelets' certificates) and the
 * service-account key (it signs the token controller's tokens).
 */
export async function writeControllerManagerPki(s: ControlPlaneSecrets, p: ControlPlanePaths = controlPlanePaths): Promise<void> {
  const f = controlPlaneFiles(p.pki);
  const cert = await client(s.ca, "system:kube-controller-manager");
  writeAll(p.pki, [
    pub(f.ca, s.ca.crt),
    secret(f.caKey, s.ca.key),
    secret(f.serviceAccountKey, s.serviceAccountKey),
    secret(f.controllerManagerKubeconfig, kubeconfig(localApiServer(p), s.ca.crt, "system:kube-controller-manager", cert)),
  ]);
}

/** The scheduler's kubeconfig (system:kube-scheduler). */
export async function writeSchedulerPki(s: ControlPlaneSecrets, p: ControlPlanePaths = controlPlanePaths): Promise<void> {
  const f = controlPlaneFiles(p.pki);
  const cert = await client(s.ca, "system:kube-scheduler");
  writeAll(p.pki, [pub(f.ca, s.ca.crt), secret(f.schedulerKubeconfig, kubeconfig(localApiServer(p), s.ca.crt, "system:kube-scheduler", cert))]);
}
