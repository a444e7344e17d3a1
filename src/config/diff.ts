// diffConfig: what changed between two configs, path by path, and which of
// those changes machined can apply live and which need a reboot.
import { isDeepStrictEqual } from "node:util";
import { formatPath } from "./issues.js";
import type { MachineConfig } from "./schema.js";

export interface ConfigDiff {
  /** Changed paths: machine.hostname, machine.sysctls["vm.swappiness"], machine.files[/etc/motd]… */
  changes: string[];
  /** The changes that take effect only after a reboot. */
  needsReboot: string[];
}

/** Sections machined applies to a running machine; everything else waits for a reboot. */
export const liveSections = [
  "machine.hostname",
  "machine.sysctls",
  "machine.files",
  "machine.kubelet",
  "machine.network",
  "machine.env",
  "machine.time",
  "machine.services",
] as const;

/** Lists whose entries are compared by a key field, so reordering is no change. */
const keyedLists: Record<string, string> = {
  "machine.files": "path",
  "machine.services": "id",
  "machine.network.interfaces": "name",
  "machine.kernel.modules": "name",
  "machine.kubelet.extraMounts": "destination",
  "machine.network.extraHostEntries": "ip",
};

/** The changes from `old` (undefined: no config yet) to `next`. */
export function diffConfig(old: MachineConfig | undefined, next: MachineConfig): ConfigDiff {
  const changes: string[] = [];
  for (const section of ["machine", "cluster"] as const) walk([section], old?.[section], next[section], changes);
  return { changes, needsReboot: changes.filter((path) => !isLive(path)) };
}

/** True when a changed path lies in a live section. */
export function isLive(path: string): boolean {
  return liveSections.some((s) => path === s || path.startsWith(`${s}.`) || path.startsWith(`${s}[`));
}

/** Records the changed paths under `keys`, descending into maps and keyed lists. */
function walk(keys: PropertyKey[], a: unknown, b: unknown, out: string[]): void {
  if (isDeepStrictEqual(a, b)) return;
  const path = formatPath(keys);
  const keyField = keyedLists[path];
  if (keyField !== undefined && (Array.isArray(a) || Array.isArray(b))) {
    diffKeyed(path, keyField, a, b, out);
  } else if (isMapOrAbsent(a) && isMapOrAbsent(b)) {
    const names = new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})]);
    for (const name of names) walk([...keys, name], a?.[name], b?.[name], out);
  } else {
    out.push(path);
  }
}

/** Records `path[key]` for each keyed entry added, removed or changed. */
function diffKeyed(path: string, field: string, a: unknown, b: unknown, out: string[]): void {
  const [before, after] = [byKey(a, field), byKey(b, field)];
  for (const key of new Set([...after.keys(), ...before.keys()])) {
    if (!isDeepStrictEqual(before.get(key), after.get(key))) out.push(`${path}[${key}]`);
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
