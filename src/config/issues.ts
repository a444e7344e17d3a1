// Zod's issues in the words of a person: every message names the path,
// what was expected and what was found. zod's own messages never surface.
import type { z } from "zod";
import { defOf, expectedOf, objectKeys, type Schema, schemaAt, schemaPathOf, unwrap } from "./introspect.js";
import { maxQuotedChars, quoted } from "./quote.js";
import { readerValue } from "./secrets.js";
import { nearest } from "./suggest.js";

/** A path as people write it: machine.files[2].path, machine.sysctls["net.ipv4.ip_forward"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => out + pathSegment(key, out === ""), "");
}

/** One step of a path: .name, [3] or ["dotted.key"]; a long key is quoted and cut. */
function pathSegment(key: PropertyKey, first: boolean): string {
  if (typeof key === "number") return `[${key}]`;
  const name = String(key);
  if (name.length <= maxQuotedChars && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return first ? name : `.${name}`;
  return `[${quoted(name)}]`;
}

/** A found value as an error shows it: "master", 300, null, a list, a map. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") return quoted(value);
  return String(value);
}


/** "required, expected X" for a missing value, else "expected X, got Y". */
export function expectation(expected: string, found: unknown): string {
  return found === undefined ? `required, expected ${expected}` : `expected ${expected}, got ${describeValue(found)}`;
}

/** "unknown key; did you mean …?", or the keys that are allowed. */
export function unknownKey(key: string, known: readonly string[]): string {
  const guess = nearest(key, known);
  if (guess) return `unknown key; did you mean "${guess}"?`;
  return known.length ? `unknown key; expected one of ${known.join(", ")}` : "unknown key";
}

/** Turns zod's issues into `path: message` lines, one per problem, in the order zod found them. */
export function humanize(issues: readonly z.core.$ZodIssue[], root: Schema): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      const known = objectKeys(schemaAt(root, issue.path) ?? root);
      return issue.keys.map((key) => line([...issue.path, key], unknownKey(key, known)));
    }
    return [line(issue.path, messageFor(issue, root))];
  });
}

/** `path: message`, with the top level named as such. */
function line(path: readonly PropertyKey[], message: string): string {
  return `${formatPath(path) || "(top level)"}: ${message}`;
}

/** The message for one issue, from the schema at its path and the value found there. */
function messageFor(issue: z.core.$ZodIssue, root: Schema): string {
  if (issue.code === "invalid_key") return invalidKey(issue, root);
  if (issue.code === "custom" && !issue.params?.expected) return issue.message;
  const schema = schemaAt(root, issue.path);
  // A field that may hold a secret never has its value repeated: it is shown as readers see it.
  return expectation(schema ? expectedOf(schema) : "a valid value", readerValue(schemaPathOf(root, issue.path), issue.input));
}

/** A map key that the record's key schema rejects. */
function invalidKey(issue: z.core.$ZodIssue, root: Schema): string {
  const record = schemaAt(root, issue.path.slice(0, -1));
  const def = record && defOf(unwrap(record));
  const expected = def?.type === "record" ? expectedOf(def.keyType) : "a valid key";
  return `${describeValue(issue.path.at(-1))} is not a valid key; expected ${expected}`;
}
