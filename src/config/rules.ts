// Rules that span fields, checked on the document as written so they are
// reported alongside schema errors: service references and cycles (errors),
// duplicates and likely mistakes (warnings).
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { builtinServiceIds, decodePem } from "./formats.js";
import { describeValue, formatPath } from "./issues.js";
import { quoted } from "./quote.js";
import { nearest } from "./suggest.js";

export interface Findings {
  errors: string[];
  warnings: string[];
}

type Mapping = Record<string, unknown>;

/** True for a YAML mapping (a plain object). */
function isMap(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined where the document has no such place. */
function valueAt(doc: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, key) => (isMap(v) ? v[key] : undefined), doc);
}

/** The maps in the list at `path`, with their indices; other entries are skipped. */
function mapsAt(doc: unknown, path: readonly string[]): { index: number; item: Mapping }[] {
  const list = valueAt(doc, path);
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => (isMap(item) ? [{ index, item }] : []));
}

/** Runs every rule over a parsed (not yet validated) document. */
export function checkRules(doc: unknown): Findings {
  return {
    errors: [
      ...duplicateServiceIds(doc),
      ...unknownDependencies(doc),
      ...dependencyCycles(doc),
      ...keyMismatch(doc, ["machine", "ca"]),
      ...keyMismatch(doc, ["cluster", "ca"]),
      ...keyMismatch(doc, ["cluster", "etcd", "ca"]),
      ...keyMismatch(doc, ["cluster", "frontProxy", "ca"]),
      ...workerWithControlPlaneSecrets(doc),
    ],
    warnings: [
      ...missingEndpoint(doc),
      ...controlPlaneWithoutEtcd(doc),
      ...controlPlaneWithoutApiServer(doc),
      ...duplicates(doc, ["machine", "network", "interfaces"], "name", "interface"),
      ...duplicates(doc, ["machine", "files"], "path", "path"),
      ...specialModeBits(doc),
      ...certifiedByControlPlane(doc),
    ],
  };
}

/** Each list entry whose `field` repeats an earlier one's, as `path: duplicate …`. */
function duplicates(doc: unknown, path: string[], field: string, noun: string): string[] {
  const seen = new Map<unknown, number>();
  const out: string[] = [];
  for (const { index, item } of mapsAt(doc, path)) {
    const value = item[field];
    if (typeof value !== "string") continue;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else out.push(`${formatPath([...path, index, field])}: duplicate ${noun} ${describeValue(value)}, also at ${formatPath([...path, first])}`);
  }
  return out;
}

const servicesPath = ["machine", "services"];

/** Two extension services may not share an id. */
function duplicateServiceIds(doc: unknown): string[] {
  return duplicates(doc, servicesPath, "id", "service id");
}

/** The extension services' ids and their dependencies, as written. */
function serviceGraph(doc: unknown): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const { item } of mapsAt(doc, servicesPath)) {
    if (typeof item.id !== "string" || graph.has(item.id)) continue;
    const deps = Array.isArray(item.dependsOn) ? item.dependsOn : [];
    graph.set(item.id, deps.filter((d): d is string => typeof d === "string"));
  }
  return graph;
}

/** Every dependsOn entry must name an extension service or a built-in one. */
function unknownDependencies(doc: unknown): string[] {
  const known = [...serviceGraph(doc).keys(), ...builtinServiceIds];
  return mapsAt(doc, servicesPath).flatMap(({ index, item }) => {
    const deps = Array.isArray(item.dependsOn) ? item.dependsOn : [];
    return deps.flatMap((dep, i) => {
      if (typeof dep !== "string" || known.includes(dep)) return [];
      const at = formatPath([...servicesPath, index, "dependsOn", i]);
      const guess = nearest(dep, known);
      const hint = guess ? `did you mean "${guess}"?` : `expected one of ${known.join(", ")}`;
      return [`${at}: unknown service ${quoted(dep)}; ${hint}`];
    });
  });
}

/** Each dependency cycle among extension services, once, as "a -> b -> a". */
function dependencyCycles(doc: unknown): string[] {
  const graph = serviceGraph(doc);
  const cycles = new Map<string, string[]>();
  const done = new Set<string>();
  const visit = (id: string, stack: string[]): void => {
    const at = stack.indexOf(id);
    if (at >= 0) recordCycle(cycles, stack.slice(at));
    if (at >= 0 || done.has(id) || !graph.has(id)) return;
    for (const dep of graph.get(id) ?? []) visit(dep, [...stack, id]);
    done.add(id);
  };
  for (const id of graph.keys()) visit(id, []);
  return [...cycles.values()].map((c) => `${formatPath(servicesPath)}: dependency cycle ${[...c, c[0]].join(" -> ")}`);
}

/** Keeps a cycle under a key that is the same whichever service it was found from. */
function recordCycle(cycles: Map<string, string[]>, cycle: string[]): void {
  const start = cycle.indexOf([...cycle].sort()[0]!);
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
  cycles.set(rotated.join(" "), rotated);
}

/** The sections only control planes may hold, and what each is. */
const controlPlaneSecrets: readonly { key: string; what: string }[] = [
  { key: "etcd", what: "the etcd CA" },
  { key: "serviceAccount", what: "the service-account signing key" },
  { key: "frontProxy", what: "the front-proxy CA" },
];

/** What only control planes may hold never reaches a worker: its config is refused, naming each section. */
function workerWithControlPlaneSecrets(doc: unknown): string[] {
  if (valueAt(doc, ["machine", "type"]) !== "worker") return [];
  return controlPlaneSecrets
    .filter(({ key }) => valueAt(doc, ["cluster", key]) !== undefined)
    .map(({ key, what }) => `cluster.${key}: only control-plane machines hold ${what}; remove it from this worker's config (kilnctl gen config's worker.yaml never has it)`);
}

/**
 * A machine without machine.ca's key gets apid's certificate from a control
 * plane, which signs only the machine's host name, its address and loopback:
 * a worker's certSANs are not in it; and without a token and endpoint it
 * gets none.
 */
function certifiedByControlPlane(doc: unknown): string[] {
  if (valueAt(doc, ["machine", "ca"]) === undefined || valueAt(doc, ["machine", "ca", "key"]) !== undefined) return [];
  const sans = valueAt(doc, ["machine", "certSANs"]);
  const asking = valueAt(doc, ["machine", "token"]) !== undefined && valueAt(doc, ["cluster", "controlPlane", "endpoint"]) !== undefined;
  if (!asking) {
    return ["machine.ca.key: not set, nor machine.token and cluster.controlPlane.endpoint to ask a control plane for apid's certificate: apid will not run (set the key, as standalone.yaml does, or the token and endpoint, as worker.yaml does)"];
  }
  // A control plane is meant to hold the key (controlplane.yaml does); the documented example leaves it out as a secret.
  if (!Array.isArray(sans) || sans.length === 0 || valueAt(doc, ["machine", "type"]) !== "worker") return [];
  return [
    "machine.certSANs: not in apid's certificate on this machine: without machine.ca.key it comes from a control plane, which signs only the machine's host name, the address it asks from and loopback (give the machine machine.ca.key to sign its own)",
  ];
}

/** A control plane without the etcd CA and its key cannot run etcd. */
function controlPlaneWithoutEtcd(doc: unknown): string[] {
  if (valueAt(doc, ["machine", "type"]) !== "controlplane") return [];
  if (valueAt(doc, ["cluster", "etcd", "ca", "key"]) !== undefined) return [];
  return ["cluster.etcd.ca: not set (with its key); a controlplane machine runs etcd only with it: kilnctl gen config writes it into controlplane.yaml"];
}

/** A control plane without the cluster CA's key, the service-account key or the front-proxy CA cannot run the API server, controller manager and scheduler. */
function controlPlaneWithoutApiServer(doc: unknown): string[] {
  if (valueAt(doc, ["machine", "type"]) !== "controlplane") return [];
  const needed = [
    { path: ["cluster", "ca", "key"], name: "cluster.ca: not set (with its key)" },
    { path: ["cluster", "serviceAccount", "key"], name: "cluster.serviceAccount.key: not set" },
    { path: ["cluster", "frontProxy", "ca", "key"], name: "cluster.frontProxy.ca: not set (with its key)" },
  ];
  return needed
    .filter(({ path }) => valueAt(doc, path) === undefined)
    .map(({ name }) => `${name}; a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml`);
}

/** A control plane machine is expected to know its cluster's endpoint. */
function missingEndpoint(doc: unknown): string[] {
  if (valueAt(doc, ["machine", "type"]) !== "controlplane") return [];
  if (valueAt(doc, ["cluster", "controlPlane", "endpoint"]) !== undefined) return [];
  return ["cluster.controlPlane.endpoint: not set; a controlplane machine needs it so kubelets and clients reach the API server"];
}

/** An integer mode with setuid/setgid/sticky bits is most likely octal written as decimal (644 for 0644). */
function specialModeBits(doc: unknown): string[] {
  return mapsAt(doc, ["machine", "files"]).flatMap(({ index, item }) => {
    const mode = item.permissions;
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode <= 0o777 || mode > 0o7777) return [];
    const at = formatPath(["machine", "files", index, "permissions"]);
    return [`${at}: ${mode} is octal ${mode.toString(8)}, which sets setuid, setgid or sticky bits; for rw-r--r-- write "0644" or 420`];
  });
}

/** A CA's key must belong to its certificate (checked only when both parse). */
function keyMismatch(doc: unknown, path: string[]): string[] {
  const pair = caPair(valueAt(doc, [...path, "crt"]), valueAt(doc, [...path, "key"]));
  if (!pair || matches(pair.crt, pair.key)) return [];
  return [`${formatPath([...path, "key"])}: does not belong to ${formatPath([...path, "crt"])}; expected the certificate's private key`];
}

/** The certificate and key of a CA, when both are present and parse. */
function caPair(crt: unknown, key: unknown): { crt: X509Certificate; key: KeyObject } | undefined {
  const crtPem = typeof crt === "string" ? decodePem(crt) : undefined;
  const keyPem = typeof key === "string" ? decodePem(key) : undefined;
  if (crtPem === undefined || keyPem === undefined) return undefined;
  try {
    return { crt: new X509Certificate(crtPem), key: createPrivateKey(keyPem) };
  } catch {
    return undefined;
  }
}

/** True when `key` is the private half of `crt`'s public key. */
function matches(crt: X509Certificate, key: KeyObject): boolean {
  try {
    return crt.checkPrivateKey(key);
  } catch {
    return false;
  }
}
