// Reading the config schema as data: what lies at a path, what a schema
// expects in words, its description and default. Errors, docs and
// stringify all look at the schema through here.
import { z } from "zod";
import { expectations } from "./formats.js";

export type Schema = z.core.$ZodType;
type Def = z.core.$ZodTypes["_zod"]["def"];

/** The definition of a schema, typed so a switch on `type` narrows it. */
export function defOf(schema: Schema): Def {
  return (schema as z.core.$ZodTypes)._zod.def;
}

/** The schema inside optional, default, nullable and pipe (input side) wrappers. */
export function unwrap(schema: Schema): Schema {
  const inner = innerOf(schema);
  return inner === schema ? schema : unwrap(inner);
}

/** The schema one step down `key` from `schema`, if there is one. */
function child(schema: Schema, key: PropertyKey): Schema | undefined {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case "object":
      return typeof key === "string" ? def.shape[key] : undefined;
    case "array":
      return def.element;
    case "record":
      return def.valueType;
    case "tuple":
      return typeof key === "number" ? (def.items[key] ?? def.rest ?? undefined) : undefined;
    case "union":
      return def.options.map((o) => child(o, key)).find((s) => s !== undefined);
    default:
      return undefined;
  }
}

/** The schema that validates the value at `path`, if the path leads anywhere. */
export function schemaAt(root: Schema, path: readonly PropertyKey[]): Schema | undefined {
  let schema: Schema | undefined = root;
  for (const key of path) schema = schema && child(schema, key);
  return schema;
}

/**
 * Every leaf of a schema as a schema path, in schema order: objects are
 * walked into, lists of objects too (as `list[]`); anything else (a value, a
 * list of values, a map) is one leaf. machine.files[].path, machine.sysctls.
 */
export function leafPaths(schema: Schema, path = ""): string[] {
  const def = defOf(unwrap(schema));
  if (def.type === "object") return Object.entries(def.shape).flatMap(([key, s]) => leafPaths(s, path ? `${path}.${key}` : key));
  if (def.type === "array" && defOf(unwrap(def.element)).type === "object") return leafPaths(def.element, `${path}[]`);
  return [path];
}

/** The schema path of a path into a document: ["machine", "files", 2, "path"] → machine.files[].path; a map's keys stop it. */
export function schemaPathOf(root: Schema, keys: readonly PropertyKey[]): string {
  let [path, schema] = ["", root];
  for (const key of keys) {
    const def = defOf(unwrap(schema));
    if (def.type === "array") [path, schema] = [`${path}[]`, def.element];
    else if (def.type === "object" && typeof key === "string" && def.shape[key]) [path, schema] = [path ? `${path}.${key}` : key, def.shape[key]];
    else break;
  }
  return path;
}

/** The field names of an object schema, in schema order. */
export function objectKeys(schema: Schema): string[] {
  const def = defOf(unwrap(schema));
  return def.type === "object" ? Object.keys(def.shape) : [];
}

/** The phrase registered for a schema or a schema it wraps. */
function registeredPhrase(schema: Schema): string | undefined {
  const inner = innerOf(schema);
  return expectations.get(schema)?.expected ?? (inner !== schema ? registeredPhrase(inner) : undefined);
}

/** What `schema` accepts, in words: "one of worker, controlplane", "an integer from 68 to 65535". */
export function expectedOf(schema: Schema): string {
  const phrase = registeredPhrase(schema);
  if (phrase) return phrase;
  const inner = unwrap(schema);
  const def = defOf(inner);
  switch (def.type) {
    case "enum":
      return `one of ${Object.values(def.entries).join(", ")}`;
    case "literal":
      return def.values.map((v) => JSON.stringify(v)).join(" or ");
    case "number":
      return numberPhrase(inner);
    case "string":
      return stringPhrase(inner);
    case "boolean":
      return "true or false";
    case "array":
    case "tuple":
      return listPhrase(inner);
    case "object":
    case "record":
      return "a map";
    case "union":
      return def.options.map(expectedOf).join(" or ");
    default:
      return def.type;
  }
}

/** The JSON Schema keywords that bound a value (type, minimum, maxLength, minItems…). */
function bounds(schema: Schema): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

/** A bound that is a real limit (not the edge of the safe integers), or undefined. */
function limit(value: unknown): number | undefined {
  return typeof value === "number" && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
}

/** "an integer from 68 to 65535", "an integer of at least 0", "a number". */
function numberPhrase(schema: Schema): string {
  const json = bounds(schema);
  const noun = json.type === "integer" ? "an integer" : "a number";
  const [min, max] = [limit(json.minimum), limit(json.maximum)];
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} of at least ${min}`;
  if (max !== undefined) return `${noun} of at most ${max}`;
  return noun;
}

/** "a string", "a non-empty string", "a string of at most 63 characters". */
function stringPhrase(schema: Schema): string {
  const { minLength, maxLength } = bounds(schema);
  if (typeof maxLength === "number") return `a string of at most ${maxLength} characters`;
  return typeof minLength === "number" && minLength > 0 ? "a non-empty string" : "a string";
}

/** "a list", "a list of at least 1 item", "a list of 1 to 16 items", "a list of at most 256 items". */
function listPhrase(schema: Schema): string {
  const { minItems, maxItems } = bounds(schema);
  const min = typeof minItems === "number" && minItems > 0 ? minItems : undefined;
  const max = typeof maxItems === "number" ? maxItems : undefined;
  if (min !== undefined && max !== undefined) return `a list of ${min} to ${max} items`;
  if (max !== undefined) return `a list of at most ${max} items`;
  if (min === undefined) return "a list";
  return `a list of at least ${min} ${min === 1 ? "item" : "items"}`;
}

/** The description a field carries, on its wrapper or the schema it wraps. */
export function descriptionOf(schema: Schema): string | undefined {
  const inner = innerOf(schema);
  return z.globalRegistry.get(schema)?.description ?? (inner !== schema ? descriptionOf(inner) : undefined);
}

/** The default value of a field, if it has one. */
export function defaultOf(schema: Schema): { value: unknown } | undefined {
  const def = defOf(schema);
  if (def.type === "default") return { value: def.defaultValue };
  if (def.type === "optional" || def.type === "nullable") return defaultOf(def.innerType);
  return undefined;
}

/** True when a field may be left out of an object. */
export function isOptional(schema: Schema): boolean {
  return schema._zod.optin === "optional";
}

/** One level inside a wrapper. */
function innerOf(schema: Schema): Schema {
  const def = defOf(schema);
  if (def.type === "optional" || def.type === "default" || def.type === "nullable" || def.type === "prefault") {
    return def.innerType;
  }
  return def.type === "pipe" ? def.in : schema;
}
