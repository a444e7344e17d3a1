// The machine configs `kilnctl gen config` writes: one per machine type,
// embedding from the secrets bundle what that type of machine needs.
import type { MachineConfigInput } from "../config/schema.js";
import type { SecretsBundle } from "./secrets-bundle.js";
import { encodeBase64Pem } from "./pem.js";
import { encodeCa, encodeControlPlaneSecrets } from "./secrets-bundle.js";

export type MachineType = "controlplane" | "worker";

/** What `kilnctl gen config` writes a config for: a machine type, or a standalone machine (a worker that signs its own API certificate). */
export type ConfigKind = MachineType | "standalone";

/**
 * The config of a `type` machine of the bundle's cluster, whose control plane
 * answers at `host`. Only control plane machines carry the machine CA's key
 * (their apid signs its own server certificate at boot, and workers' on the
 * trust port), the Kubernetes CA's key, the etcd and front-proxy CAs and the
 * service-account key, and only they list `host` in their certificate's SANs.
 * Workers carry the machine CA's certificate and the machine token, with
 * which they ask a control plane for apid's certificate. A standalone machine
 * (a single machine outside any cluster, for trying kiln out) is a worker that
 * keeps the machine CA's key, so that its apid serves without a control plane.
 */
export function machineConfigFor(b: SecretsBundle, kind: ConfigKind, host: string): MachineConfigInput {
  const type: MachineType = kind === "standalone" ? "worker" : kind;
  const cp = type === "controlplane";
  // A standalone machine has no control plane to ask: it keeps the key.
  const machineCa = kind === "worker" ? { crt: encodeBase64Pem(b.machine.ca.crt) } : encodeCa(b.machine.ca);
  const controlPlaneOnly = cp ? encodeControlPlaneSecrets(b) : {};
  const clusterCa = { crt: encodeBase64Pem(b.cluster.ca.crt), ...(cp ? { key: encodeBase64Pem(b.cluster.ca.key) } : {}) };
  return {
    apiVersion: "kiln/v1alpha1",
    kind: "MachineConfig",
    machine: { type, ca: machineCa, token: b.machine.token, ...(cp ? { certSANs: [host] } : {}) },
    cluster: { name: b.name, controlPlane: { endpoint: kubernetesEndpoint(host) }, ca: clusterCa, token: b.cluster.token, ...controlPlaneOnly },
  };
}

/** The Kubernetes API server URL on `host` (port 6443); IPv6 in brackets. */
export function kubernetesEndpoint(host: string): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:6443`;
}
