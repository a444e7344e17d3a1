// The kubeconfig kiln hands an administrator (`kilnctl kubeconfig`): what
// machined issues and kilnctl merges into ~/.kube/config. Only the fields
// kiln writes are typed; a kubeconfig read from disk keeps all others.

/** The group Kubernetes grants every permission: the admin certificate's Organization. */
export const adminGroup = "system:masters";
/** The admin certificate's Common Name (its user name to the API server). */
export const adminCommonName = "kiln-admin";
/** The cluster name when the machine config names none (cluster.name). */
export const defaultClusterName = "kiln";

const hourMs = 3_600_000;
/** How long an admin kubeconfig lives unless asked: 24h. Short, as it holds the keys to the cluster. */
export const defaultKubeconfigTtlMs = 24 * hourMs;

/** The parts of an admin kubeconfig, all inline (base64 of PEM, as kubectl expects). */
export interface AdminKubeconfigParts {
  cluster: string;
  server: string;
  caPem: string;
  crtPem: string;
  keyPem: string;
}

/** The context and user name of the admin of `cluster`: "admin@<cluster>". */
export function adminContextName(cluster: string): string {
  return `admin@${cluster}`;
}

/** A whole kubeconfig (as a plain object) with one cluster, user and context, current. */
export function adminKubeconfig(p: AdminKubeconfigParts): Record<string, unknown> {
  const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");
  const name = adminContextName(p.cluster);
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: p.cluster, cluster: { server: p.server, "certificate-authority-data": b64(p.caPem) } }],
    users: [{ name, user: { "client-certificate-data": b64(p.crtPem), "client-key-data": b64(p.keyPem) } }],
    contexts: [{ name, context: { cluster: p.cluster, user: name } }],
    "current-context": name,
    preferences: {},
  };
}
