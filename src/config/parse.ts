// parseConfig: YAML text in, a validated MachineConfig or every problem out.
import { describeValue, humanize } from "./issues.js";
import { loadYaml } from "./load-yaml.js";
import { checkRules } from "./rules.js";
import { type MachineConfig, machineConfigSchema } from "./schema.js";

export type ParseResult = { config: MachineConfig; warnings: string[] } | { errors: string[]; warnings: string[] };

/** Parses and validates a machine config document, reporting all problems at once. */
export function parseConfig(text: string): ParseResult {
  const loaded = loadYaml(text);
  if ("errors" in loaded) return loaded;
  return validateConfig(loaded.value, loaded.warnings);
}

/** Validates an already-parsed document (e.g. from JSON); `warnings` are carried through. */
export function validateConfig(value: unknown, warnings: string[] = []): ParseResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const expected = "expected a map at the top level (apiVersion, kind, machine, cluster)";
    return { errors: [`${expected}, got ${describeValue(value)}`], warnings };
  }
  const result = machineConfigSchema.safeParse(value, { reportInput: true });
  const rules = checkRules(value);
  const allWarnings = [...warnings, ...rules.warnings];
  const schemaErrors = result.success ? [] : humanize(result.error.issues, machineConfigSchema);
  const errors = [...schemaErrors, ...rules.errors];
  if (!result.success || errors.length > 0) return { errors, warnings: allWarnings };
  return { config: result.data, warnings: allWarnings };
}
