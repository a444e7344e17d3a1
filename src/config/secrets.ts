// Secrets in the machine config and how they are hidden from readers:
// redaction by default. Every leaf of the schema is listed here; a leaf not
// declared safe is hidden from callers below os:admin. A test walks the
// schema and fails on a leaf missing from the table.
import type { MachineConfig } from "./schema.js";

/**
 * What a reader may see of one leaf:
 * - safe: shown as it is (nothing in it can hold a secret);
 * - key: a credential; hidden, and kilnctl will not send it to an unverified server;
 * - hidden: free text or values that may hold one (env, file contents, argv); hidden;
 * - url: shown without its credentials (user, password, query).
 */
export type ReaderView = "safe" | "key" | "hidden" | "url";

/** Every leaf of the schema (as introspect.ts leafPaths names them) and what a reader sees of it. */
export const readerViews: Readonly<Record<string, ReaderView>> = {
  apiVersion: "safe",
  kind: "safe",
  "machine.type": "safe",
  "machine.hostname": "safe",
  "machine.network.nameservers": "safe",
  "machine.network.extraHostEntries[].ip": "safe",
  "machine.network.extraHostEntries[].aliases": "safe",
  "machine.network.interfaces[].name": "safe",
  "machine.network.interfaces[].dhcp": "safe",
  "machine.network.interfaces[].addresses": "safe",
  "machine.network.interfaces[].routes[].network": "safe",
  "machine.network.interfaces[].routes[].gateway": "safe",
  "machine.network.interfaces[].routes[].metric": "safe",
  "machine.network.interfaces[].mtu": "safe",
  "machine.sysctls": "safe",
  "machine.kernel.modules[].name": "safe",
  // Module parameters can carry keys (e.g. a firmware or crypto key): hidden.
  "machine.kernel.modules[].parameters": "hidden",
  "machine.files[].path": "safe",
  "machine.files[].content": "hidden",
  "machine.files[].permissions": "safe",
  "machine.files[].op": "safe",
  "machine.env": "hidden",
  "machine.time.servers": "safe",
  "machine.kubelet.extraArgs": "hidden",
  "machine.kubelet.nodeIP.validSubnets": "safe",
  "machine.kubelet.clusterDNS": "safe",
  "machine.kubelet.extraMounts[].source": "safe",
  "machine.kubelet.extraMounts[].destination": "safe",
  "machine.kubelet.extraMounts[].type": "safe",
  "machine.kubelet.extraMounts[].options": "safe",
  "machine.install.disk": "safe",
  "machine.install.wipe": "safe",
  "machine.install.image": "url",
  "machine.ca.crt": "safe",
  // Signs machine API certificates (admin access to every machine).
  "machine.ca.key": "key",
  // Lets a machine join and obtain machine API certificates.
  "machine.token": "key",
  "machine.certSANs": "safe",
  // Fingerprints and serials of revoked certificates: public identifiers.
  "machine.api.deniedCertificates": "safe",
  "machine.api.peers": "safe",
  "machine.services[].id": "safe",
  "machine.services[].command": "hidden",
  "machine.services[].env": "hidden",
  "machine.services[].dependsOn": "safe",
  "machine.services[].restart": "safe",
  "machine.services[].health.exec": "hidden",
  "machine.services[].health.http": "url",
  "machine.services[].health.unixSocket": "safe",
  "machine.services[].oomScoreAdj": "safe",
  "machine.services[].stopGraceMs": "safe",
  "machine.registries.mirrors[].registry": "safe",
  // Mirror URLs: refused with credentials or a query, but a refused one is quoted in errors.
  "machine.registries.mirrors[].endpoints": "url",
  "machine.registries.hosts[].host": "safe",
  "machine.registries.hosts[].tls.ca": "safe",
  "machine.registries.hosts[].tls.clientCert": "safe",
  // Authenticates the machine to a registry.
  "machine.registries.hosts[].tls.clientKey": "key",
  "machine.registries.hosts[].tls.insecureSkipVerify": "safe",
  "machine.registries.hosts[].auth.username": "safe",
  // Registry credentials: pull (or push) what the account may.
  "machine.registries.hosts[].auth.password": "key",
  "machine.registries.hosts[].auth.identityToken": "key",
  "cluster.name": "safe",
  "cluster.controlPlane.endpoint": "url",
  "cluster.ca.crt": "safe",
  // Signs Kubernetes certificates (cluster-admin).
  "cluster.ca.key": "key",
  "cluster.network.podSubnets": "safe",
  "cluster.network.serviceSubnets": "safe",
  "cluster.network.cni": "safe",
  // Signs service-account tokens: any identity in the cluster.
  "cluster.serviceAccount.key": "key",
  "cluster.frontProxy.ca.crt": "safe",
  // Signs the API server's identity toward aggregated API servers.
  "cluster.frontProxy.ca.key": "key",
  "cluster.etcd.ca.crt": "safe",
  "cluster.etcd.ca.key": "key",
  // Kubernetes bootstrap token (joins nodes to the cluster).
  "cluster.token": "key",
};

/** The credentials: knowing one lets someone impersonate the machine or the cluster. */
export const secretPaths: readonly string[] = Object.keys(readerViews).filter((p) => readerViews[p] === "key");

/** Every leaf hidden from readers in any way (keys, hidden values, URLs' credentials). */
export const redactedPaths: readonly string[] = Object.keys(readerViews).filter((p) => readerViews[p] !== "safe");

/** What a secret is replaced with. */
export const redacted = "******";

/** A value found at a schema path (machine.files[].content, machine.env) as a reader may see it: as it is, or redacted like its leaf. */
export function readerValue(schemaPath: string, value: unknown): unknown {
  const leaf = redactedPaths.find((p) => schemaPath === p || schemaPath.startsWith(`${p}[`) || schemaPath.startsWith(`${p}.`));
  if (leaf === undefined) return value;
  return readerViews[leaf] === "url" ? redactUrl(value) : hide(value);
}

/** A copy of `config` with every leaf that is not safe for readers redacted where it is set. */
export function redactConfig(config: MachineConfig): MachineConfig {
  const copy = structuredClone(config);
  for (const path of redactedPaths) replaceAt(copy, steps(path), readerViews[path] === "url" ? redactUrl : hide);
  return copy;
}

/** The credentials set in a parsed config (any shape: a config not yet validated too). */
export function secretsSet(config: unknown): string[] {
  return secretPaths.filter((path) => {
    const values: unknown[] = [];
    replaceAt(config, steps(path), (v) => values.push(v), false);
    return values.some((v) => v !== undefined && v !== null && v !== "");
  });
}

/** A schema path as steps: "machine.files[].content" → ["machine", "files", "[]", "content"]. */
function steps(path: string): string[] {
  return path.split(".").flatMap((k) => (k.endsWith("[]") ? [k.slice(0, -2), "[]"] : [k]));
}

/** Replaces each value at `keys` ("[]" walks every element of a list) with `fn(value)`. */
function replaceAt(node: unknown, keys: string[], fn: (v: unknown) => unknown, write = true): void {
  const [key, ...rest] = keys;
  if (key === undefined) return;
  if (key === "[]") {
    if (Array.isArray(node)) for (const item of node) replaceAt(item, rest, fn, write);
    return;
  }
  if (!isObject(node) || node[key] === undefined) return;
  if (rest.length > 0) replaceAt(node[key], rest, fn, write);
  else {
    const next = fn(node[key]);
    if (write) node[key] = next;
  }
}

/** A hidden value: strings, list items and map values become stars; numbers and booleans stay (no secret fits). */
function hide(v: unknown): unknown {
  if (typeof v === "string") return redacted;
  if (Array.isArray(v)) return v.map(hide);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hide(x)]));
  return v;
}

/** A URL (or a list of them) without its user, password and query; a string that is no URL is hidden whole. */
function redactUrl(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactUrl);
  if (typeof v !== "string") return hide(v);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return /^[\w.-]+(:\d+)?$/.test(v) ? v : redacted; // host[:port] alone holds no credentials
  }
  if (!url.username && !url.password && !url.search) return v;
  if (url.username) url.username = redacted;
  if (url.password) url.password = redacted;
  if (url.search) url.search = redacted;
  return url.href;
}

/** True for a plain object whose fields may be read and written. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
