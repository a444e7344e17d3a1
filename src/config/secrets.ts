// Secrets in the machine config and how they are hidden from readers
// (os:reader never sees keys or tokens; certificates are public and stay).
import type { MachineConfig } from "./schema.js";

/**
 * Every field that holds a secret. A field is listed here when knowing it
 * lets someone impersonate the machine or the cluster:
 * - machine.ca.key: signs machine API certificates (admin access to every machine).
 * - machine.token: lets a machine join and obtain machine API certificates.
 * - cluster.ca.key: signs Kubernetes certificates (cluster-admin).
 * - cluster.token: Kubernetes bootstrap token (joins nodes to the cluster).
 */
export const secretPaths = ["machine.ca.key", "machine.token", "cluster.ca.key", "cluster.token"] as const;

/** What a secret is replaced with. */
export const redacted = "******";

/** A copy of `config` with every secret that is set replaced by "******". */
export function redactConfig(config: MachineConfig): MachineConfig {
  const copy = structuredClone(config);
  for (const path of secretPaths) replaceIfSet(copy, path.split("."), redacted);
  return copy;
}

/** The secret paths set in a parsed config (any shape: a config not yet validated too). */
export function secretsSet(config: unknown): string[] {
  return secretPaths.filter((path) => {
    const v = path.split(".").reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), config);
    return v !== undefined && v !== null && v !== "";
  });
}

/** Sets the field at `keys` to `value` when the field exists and is set. */
function replaceIfSet(root: object, keys: string[], value: string): void {
  const last = keys.at(-1)!;
  const parent = keys.slice(0, -1).reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), root);
  if (isObject(parent) && parent[last] !== undefined) parent[last] = value;
}

/** True for a plain object whose fields may be read and written. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
