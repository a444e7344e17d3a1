// diffConfig: what changed between two configs, path by path, and which of
// those changes need a reboot (as effects.ts says of the fields they touch).
import { isDeepStrictEqual } from "node:util";
import { needsRebootAt } from "./effects.js";
import { schemaPathOf } from "./introspect.js";
import { formatPath } from "./issues.js";
import { type MachineConfig, machineConfigSchema } from "./schema.js";

export interface ConfigDiff {
  /** Changed paths: machine.hostname, machine.sysctls["vm.swappiness"], machine.files[/etc/motd]… */
  changes: string[];
  /** The changes that take effect only after a reboot. */
  needsReboot: string[];
}

/** Lists whose entries are compared by a key field, so reordering is no change. */
const keyedLists: Record<string, string> = {
  "machine.files": "path",
  "machine.services": "id",
  "machine.network.interfaces": "name",
  "machine.kernel.modules": "name",
  "machine.kubelet.extraMounts": "destination",
  "machine.network.extraHostEntries": "ip",
};

/** One changed place: as people read it, and the schema path effects.ts knows it by. */
interface Change {
  path: string;
  schemaPath: string;
}

/** The changes from `old` (undefined: no config yet) to `next`. */
export function diffConfig(old: MachineConfig | undefined, next: MachineConfig): ConfigDiff {
  const found: Change[] = [];
  for (const section of ["machine", "cluster"] as const) walk([section], old?.[section], next[section], found);
  const changes = found.map((c) => c.path);
  return { changes, needsReboot: found.filter((c) => needsRebootAt(c.schemaPath)).map((c) => c.path) };
}

/** A change at `keys` (`entry`: the list entry with that key). */
function change(keys: readonly PropertyKey[], entry?: string): Change {
  const path = formatPath(keys);
  if (entry === undefined) return { path, schemaPath: schemaPathOf(machineConfigSchema, keys) };
  return { path: `${path}[${entry}]`, schemaPath: schemaPathOf(machineConfigSchema, [...keys, 0]) };
}

/** Records the changed paths under `keys`, descending into maps and keyed lists. */
function walk(keys: PropertyKey[], a: unknown, b: unknown, out: Change[]): void {
  if (isDeepStrictEqual(a, b)) return;
  const path = formatPath(keys);
  const keyField = keyedLists[path];
  if (keyField !== undefined && (Array.isArray(a) || Array.isArray(b))) {
    diffKeyed(keys, keyField, a, b, out);
  } else if (isMapOrAbsent(a) && isMapOrAbsent(b)) {
    const names = new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})]);
    for (const name of names) walk([...keys, name], a?.[name], b?.[name], out);
  } else {
    out.push(change(keys));
  }
}

/** Records `path[key]` for each keyed entry added, removed or changed. */
function diffKeyed(keys: PropertyKey[], field: string, a: unknown, b: unknown, out: Change[]): void {
  const [before, after] = [byKey(a, field), byKey(b, field)];
  for (const key of new Set([...after.keys(), ...before.keys()])) {
    if (!isDeepStrictEqual(before.get(key), after.get(key))) out.push(change(keys, key));
  }
}

/** A list's entries grouped by their key field, in order. */
function byKey(list: unknown, field: string): Map<string, unknown[]> {
  const groups = new Map<string, unknown[]>();
  for (const item of Array.isArray(list) ? list : []) {
    const key = String((item as Record<string, unknown>)[field]);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}

/** True for a map (plain object) or a value that is not there. */
function isMapOrAbsent(v: unknown): v is Record<string, unknown> | undefined {
  return v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v));
}
