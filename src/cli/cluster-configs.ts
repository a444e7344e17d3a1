// What `cluster create --controlplanes C --workers W` gives each node and the
// user, the way `gen config` would: one cluster's secrets; per node the
// control plane's or worker's config with the Kubernetes endpoint on the
// first control plane's fixed address, machine.hostname set to the node's
// name (cp-1, w-1…), then the user's patches (all nodes, then the node's
// role); and a kilnconfig context reaching every node directly. Loaded only
// when such a create runs (the PKI and the schema are heavy).
import type { KilnContext } from "../config/kilnconfig.js";
import { parseConfig, validateConfig } from "../config/parse.js";
import { stringifyConfig } from "../config/stringify.js";
import { apidPort } from "../machinery/apid.js";
import { issueClientCert } from "../pki/certs.js";
import { machineConfigFor } from "../pki/machine-configs.js";
import { encodeBase64Pem } from "../pki/pem.js";
import type { SecretsBundle } from "../pki/secrets-bundle.js";
import type { ClusterPlan, PlannedNode } from "../provision/provisioner.js";
import { CliError } from "./errors.js";
import { applyPatches, type Patch } from "./patch.js";

/** The user's patches: for every node, then for one role. */
export interface ClusterPatches {
  all: Patch[];
  controlplanes: Patch[];
  workers: Patch[];
}

export const noPatches: ClusterPatches = { all: [], controlplanes: [], workers: [] };

/** Each node's machine config (YAML), by node name, validated as machined will. */
export function clusterConfigs(b: SecretsBundle, plan: ClusterPlan, patches: ClusterPatches): Record<string, string> {
  const endpoint = firstControlPlane(plan).address;
  return Object.fromEntries(plan.nodes.map((n) => [n.name, nodeConfig(b, plan, n, endpoint, patches)]));
}

/** The first control plane: the cluster's Kubernetes endpoint. */
export function firstControlPlane(plan: ClusterPlan): PlannedNode {
  const cp = plan.nodes.find((n) => n.role === "controlplane");
  if (!cp) throw new Error(`cluster ${plan.cluster} has no control plane`);
  return cp;
}

/** One node's config: the role's, its hostname (and, for a control plane, its address in certSANs), the patches. */
function nodeConfig(b: SecretsBundle, plan: ClusterPlan, n: PlannedNode, endpoint: string, patches: ClusterPatches): string {
  const base = machineConfigFor(b, n.role, endpoint);
  const own = { machine: { hostname: n.name, ...(n.role === "controlplane" ? { certSANs: [...new Set([endpoint, n.address])] } : {}) } };
  const rolePatches = n.role === "controlplane" ? patches.controlplanes : patches.workers;
  const what = `the machine config of ${n.name} (${n.role}) of cluster "${plan.cluster}"`;
  const patched = applyPatches(base, [{ t: "merge", source: "node", doc: own }, ...patches.all, ...rolePatches]);
  const built = validateConfig(patched);
  if ("errors" in built) throw new CliError(what, `invalid after the patches:\n${built.errors.join("\n")}`);
  const text = `# kiln machine config for ${n.name} (${n.role}) of cluster "${plan.cluster}". It holds keys and tokens: keep it private.\n${stringifyConfig(built.config)}`;
  const check = parseConfig(text);
  if ("errors" in check) throw new CliError(what, check.errors.join("\n"));
  return text;
}

/** An os:admin context whose endpoints are the control planes' apids and nodes every node's address. */
export async function clusterContext(b: SecretsBundle, nodes: Pick<PlannedNode, "role" | "address">[]): Promise<KilnContext> {
  const client = await issueClientCert(b.machine.ca, { roles: ["os:admin"] });
  return {
    endpoints: nodes.filter((n) => n.role === "controlplane").map((n) => `${n.address}:${apidPort}`),
    nodes: nodes.map((n) => n.address),
    ca: encodeBase64Pem(b.machine.ca.crt),
    crt: encodeBase64Pem(client.crt),
    key: encodeBase64Pem(client.key),
  };
}
