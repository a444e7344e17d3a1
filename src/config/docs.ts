// The reference docs generated from the schema: docs/machine-config.md for
// people and docs/machine-config.schema.json for editors. hack/gen-config-docs.ts
// writes them; a test fails when the committed files differ.
import { z } from "zod";
import { describeEffect, effects } from "./effects.js";
import { exampleConfigYaml } from "./example.js";
import { defaultOf, defOf, descriptionOf, expectedOf, isOptional, objectKeys, type Schema, unwrap } from "./introspect.js";
import { machineConfigSchema } from "./schema.js";
import { readerViews, redactedPaths, secretPaths } from "./secrets.js";

/** A generated file: its path from the repository root and its content. */
export interface GeneratedDoc {
  path: string;
  content: string;
}

/** Every file the generator writes. */
export function generatedDocs(): GeneratedDoc[] {
  return [
    { path: "docs/machine-config.md", content: renderReference() },
    { path: "docs/machine-config.schema.json", content: renderJsonSchema() },
  ];
}

/** The JSON Schema of a config as written (defaults optional), for editors. */
export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(machineConfigSchema, { io: "input", target: "draft-2020-12" });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** The Markdown reference: intro, example, one table per map, secrets, live changes. */
export function renderReference(): string {
  return [...intro, ...exampleSection(), "## Fields", "", ...sections("", machineConfigSchema), ...outro()].join("\n");
}

const intro = [
  "# Machine config reference",
  "",
  "<!-- Generated from src/config/schema.ts by `npx tsx hack/gen-config-docs.ts`. Do not edit by hand. -->",
  "",
  "A kiln machine reads one YAML document, `apiVersion: kiln/v1alpha1`, `kind: MachineConfig`.",
  "It is validated strictly: unknown keys are errors, and every error names its path, what was",
  "expected and what was found. Editors validate it against",
  "[machine-config.schema.json](machine-config.schema.json); with the YAML language server, start",
  "the file with `# yaml-language-server: $schema=<path or URL of machine-config.schema.json>`.",
  "",
  "Values that look like numbers or booleans must be quoted where a string is expected",
  '(`net.ipv4.ip_forward: "1"`). Numbers written with a leading zero (`0644`) are read as',
  "strings, so file modes may be written as octal strings, quoted or not.",
  "",
];

/** The example document. */
function exampleSection(): string[] {
  return ["## Example", "", "```yaml", exampleConfigYaml.trimEnd(), "```", ""];
}

/** A table for the map at `path`, then the tables of the maps inside it. */
function sections(path: string, schema: Schema, description = descriptionOf(schema)): string[] {
  const def = defOf(unwrap(schema));
  if (def.type !== "object") return [];
  const fields = objectKeys(schema).map((key) => ({ key, field: def.shape[key]!, path: join(path, key) }));
  const table = ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"];
  const rows = fields.map(({ key, field, path: at }) => row(key, at, field));
  const heading = [path ? `### \`${path}\`` : "### Top level", "", ...(description ? [description, ""] : [])];
  return [...heading, ...table, ...rows, "", ...fields.flatMap(({ field, path: at }) => nested(at, field))];
}

/** Sections for a field that is a map or a list of maps. */
function nested(path: string, field: Schema): string[] {
  const def = defOf(unwrap(field));
  if (def.type === "object") return sections(path, field);
  if (def.type === "array") return sections(`${path}[]`, def.element, descriptionOf(field));
  return [];
}

/** One table row: name, type, default (or "required"), description. */
function row(key: string, path: string, field: Schema): string {
  const fallback = defaultOf(field);
  const shownDefault = fallback ? `\`${JSON.stringify(fallback.value)}\`` : isOptional(field) ? "" : "required";
  const cells = [`\`${key}\``, typeOf(path, field), shownDefault, descriptionOf(field) ?? ""];
  return `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
}

/** The Type cell: a phrase for values, a pointer to the section for maps. */
function typeOf(path: string, field: Schema): string {
  const def = defOf(unwrap(field));
  if (def.type === "object") return `map, see \`${path}\``;
  if (def.type === "array" && defOf(unwrap(def.element)).type === "object") return `list of maps, see \`${path}[]\``;
  if (def.type === "array") return `list, each ${expectedOf(def.element)}`;
  if (def.type === "tuple") return `list: ${def.items.map(expectedOf).join(", ")}${def.rest ? `, then each ${expectedOf(def.rest)}` : ""}`;
  if (def.type === "record") return `map from ${expectedOf(def.keyType)} to ${expectedOf(def.valueType)}`;
  return expectedOf(field);
}

/** `machine` + `hostname` → `machine.hostname`. */
function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Secrets and which changes apply without a reboot. */
function outro(): string[] {
  return [
    "## Secrets",
    "",
    "Callers below `os:admin` see a field only when it is declared safe for readers (`src/config/secrets.ts`);",
    "everything else is redacted: strings become `******` (a map keeps its keys, a list its length), and URLs",
    "lose their user, password and query. The keys and tokens (kilnctl will not send them over `--insecure`",
    "to an unpinned server) are marked *credential*; certificates are public and shown.",
    "",
    ...redactedPaths.map((p) => `- \`${p}\`${secretPaths.includes(p) ? " (credential)" : readerViews[p] === "url" ? " (credentials in the URL)" : ""}`),
    "",
    "## Applying changes",
    "",
    "How a change to each field takes effect. `apply-config --mode auto` reboots when any change needs it;",
    "`no-reboot` and `try` refuse such changes.",
    "",
    "| Field | Takes effect |",
    "| --- | --- |",
    ...Object.entries(effects).map(([path, e]) => `| \`${path}\` | ${describeEffect(e).replaceAll("|", "\\|")} |`),
    "",
  ];
}
