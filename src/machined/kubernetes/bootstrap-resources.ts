// What a control plane creates in the cluster once its API server answers:
// the bootstrap token kubelets join with, and the bindings that let a
// joining kubelet ask for its client certificate and have it approved.
// Every create is idempotent (an existing object is left as it is), so this
// runs at every start.
import type { KubeClient, KubeObject } from "./client.js";

/** The group a kiln bootstrap token authenticates into, besides system:bootstrappers. */
export const bootstrapGroup = "system:bootstrappers:kiln:default-node-token";

const tokenPattern = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** A Secret, as far as kiln writes one. */
export interface Secret extends KubeObject {
  type?: string;
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}

/** A ClusterRoleBinding of one ClusterRole to one group. */
export interface ClusterRoleBinding extends KubeObject {
  roleRef: { apiGroup: "rbac.authorization.k8s.io"; kind: "ClusterRole"; name: string };
  subjects: { apiGroup: "rbac.authorization.k8s.io"; kind: "Group" | "User"; name: string }[];
}

/** The bootstrap token Secret for `token` (id.secret); throws when the token is not in that shape. */
export function bootstrapTokenSecret(token: string): Secret {
  const m = tokenPattern.exec(token);
  if (!m) throw new Error("cluster.token: expected [a-z0-9]{6}.[a-z0-9]{16}");
  const [, id, secret] = m as unknown as [string, string, string];
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    type: "bootstrap.kubernetes.io/token",
    stringData: {
      description: "kiln: the token kubelets join the cluster with (cluster.token)",
      "token-id": id,
      "token-secret": secret,
      "usage-bootstrap-authentication": "true",
      "usage-bootstrap-signing": "true",
      "auth-extra-groups": bootstrapGroup,
    },
  };
}

/** A binding of ClusterRole `role` to group `group`, named `name`. */
function groupBinding(name: string, group: string, role: string): ClusterRoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
  };
}

/** The bindings: bootstrappers may ask for node client certificates, which are approved, as are nodes' renewals. */
export const bootstrapBindings: ClusterRoleBinding[] = [
  groupBinding("kiln:node-bootstrapper", "system:bootstrappers", "system:node-bootstrapper"),
  groupBinding("kiln:node-autoapprove-bootstrap", "system:bootstrappers", "system:certificates.k8s.io:certificatesigningrequests:nodeclient"),
  groupBinding("kiln:node-autoapprove-renewal", "system:nodes", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"),
];

/** What ensureBootstrapResources did: each object's path and whether it was created or was there. */
export interface EnsureResult {
  path: string;
  t: "created" | "exists";
}

/** Creates the token Secret (when `token` is set) and the bindings; those that exist are left alone. */
export async function ensureBootstrapResources(client: KubeClient, token: string | undefined): Promise<EnsureResult[]> {
  const wanted: [string, KubeObject][] = bootstrapBindings.map((b) => [`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${b.metadata?.name}`, b]);
  if (token) {
    const secret = bootstrapTokenSecret(token);
    wanted.unshift([`/api/v1/namespaces/kube-system/secrets/${secret.metadata?.name}`, secret]);
  }
  const results: EnsureResult[] = [];
  for (const [path, object] of wanted) {
    const collection = path.slice(0, path.lastIndexOf("/"));
    const r = await client.create(collection, object);
    results.push({ path, t: r.t });
  }
  return results;
}
