// The machine configs `kilnctl gen config` writes: one per machine type,
// embedding from the secrets bundle what that type of machine needs.
import type { MachineConfigInput } from "../config/schema.js";
import type { SecretsBundle } from "./secrets-bundle.js";
import { encodeBase64Pem } from "./pem.js";
import { encodeCa, encodeControlPlaneSecrets } from "./secrets-bundle.js";

export type MachineType = "controlplane" | "worker";

/**
 * The config of a `type` machine of the bundle's cluster, whose control plane
 * answers at `host`. Both types carry the machine CA's key (apid signs its own
 * server certificate at boot); only control plane machines carry the
 * Kubernetes CA's key, the etcd and front-proxy CAs and the service-account
 * key, and only they list `host` in their
 * certificate's SANs.
 */
export function machineConfigFor(b: SecretsBundle, type: MachineType, host: string): MachineConfigInput {
  const cp = type === "controlplane";
  const machineCa = encodeCa(b.machine.ca);
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
