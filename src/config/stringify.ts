// stringifyConfig: a MachineConfig back to YAML, keys in schema order (map
// keys sorted), so the same config always prints the same bytes.
import { stringify } from "yaml";
import { objectKeys, type Schema, schemaAt } from "./introspect.js";
import { type MachineConfig, machineConfigSchema } from "./schema.js";

/** Prints a config as YAML that parseConfig reads back to the same config. */
export function stringifyConfig(config: MachineConfig): string {
  const plain = ordered(machineConfigSchema, config) as { machine: { files?: { permissions: unknown }[] } };
  for (const file of plain.machine.files ?? []) file.permissions = octal(Number(file.permissions));
  return stringify(plain, { lineWidth: 0 });
}

/** A file mode as people write it: 420 → "0644". */
function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

/** A copy of `value` with object keys in schema order and map keys sorted; undefined fields dropped. */
function ordered(schema: Schema | undefined, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item, i) => ordered(schema && schemaAt(schema, [i]), item));
  if (typeof value !== "object" || value === null) return value;
  const fields = value as Record<string, unknown>;
  const known = schema ? objectKeys(schema) : [];
  const keys = [...known.filter((k) => k in fields), ...Object.keys(fields).filter((k) => !known.includes(k)).sort()];
  const present = keys.filter((k) => fields[k] !== undefined);
  return Object.fromEntries(present.map((k) => [k, ordered(schema && schemaAt(schema, [k]), fields[k])]));
}
