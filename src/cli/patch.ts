// Patches for `kilnctl patch config`: a JSON Patch (RFC 6902, an array of
// operations) or a JSON Merge Patch (RFC 7396, which replaced RFC 7386; an
// object), written as JSON or YAML, inline or as @FILE. fast-json-patch and
// json-merge-patch apply them; this file names what went wrong and where.
import { readFile } from "node:fs/promises";
import jsonpatch, { type JsonPatchError, type Operation } from "fast-json-patch";
import mergePatch from "json-merge-patch";
import { loadYaml } from "../config/load-yaml.js";
import { CliError, toCliError, usageError } from "./errors.js";

export type Patch =
  | { t: "json"; source: string; ops: Operation[] }
  | { t: "merge"; source: string; doc: Record<string, unknown> };

const expected = "expected a JSON Patch (a list of operations) or a merge patch (a map)";

/** Why an operation failed, by fast-json-patch's error name. */
const reasons: Record<string, string> = {
  OPERATION_NOT_AN_OBJECT: "expected an operation (a map with op and path)",
  OPERATION_OP_INVALID: "op must be one of add, remove, replace, move, copy, test",
  OPERATION_PATH_INVALID: 'path must be a JSON Pointer starting with "/"',
  OPERATION_FROM_REQUIRED: "from is required for move and copy",
  OPERATION_VALUE_REQUIRED: "value is required for add, replace and test",
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: "value is required for add, replace and test",
  OPERATION_PATH_CANNOT_ADD: "cannot add there: the parent does not exist",
  OPERATION_PATH_UNRESOLVABLE: "the path does not exist",
  OPERATION_FROM_UNRESOLVABLE: "the from path does not exist",
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: 'a list index must be a whole number or "-"',
  OPERATION_VALUE_OUT_OF_BOUNDS: "the list index is past the end of the list",
  TEST_OPERATION_FAILED: "test failed: the value differs",
};

/** Each --patch value, inline or @FILE, as a patch; a malformed one is a usage error naming it. */
export async function readPatches(values: string[]): Promise<Patch[]> {
  const patches: Patch[] = [];
  for (const [i, value] of values.entries()) {
    const source = value.startsWith("@") ? value : String(i + 1);
    const parsed = parsePatch(value.startsWith("@") ? await readPatchFile(value.slice(1)) : value, source);
    if ("error" in parsed) throw usageError(`patch ${source}`, parsed.error);
    patches.push(parsed.patch);
  }
  return patches;
}

/** A patch file's text. */
function readPatchFile(file: string): Promise<string> {
  return readFile(file, "utf8").catch((err: unknown) => {
    throw toCliError(err, { what: `reading ${file}` });
  });
}

/** A patch from its JSON or YAML text: a list is a JSON Patch, a map a merge patch. */
export function parsePatch(text: string, source: string): { patch: Patch } | { error: string } {
  if (text.trim() === "") return { error: `is empty; ${expected}` };
  const loaded = loadYaml(text);
  if ("errors" in loaded) return { error: loaded.errors.join("\n") };
  const value = loaded.value;
  if (Array.isArray(value)) return jsonPatch(value, source);
  if (typeof value === "object" && value !== null) return { patch: { t: "merge", source, doc: value as Record<string, unknown> } };
  return { error: `${expected}, got ${value === null ? "null" : `a ${typeof value}`}` };
}

/** A JSON Patch whose operations are well formed (op, path, from and value). */
function jsonPatch(ops: unknown[], source: string): { patch: Patch } | { error: string } {
  const error = jsonpatch.validate(ops as Operation[]);
  return error ? { error: describeOpError(error) } : { patch: { t: "json", source, ops: ops as Operation[] } };
}

/** Applies the patches in order to a copy of `doc`; a failing operation is named by patch, index, op and path. */
export function applyPatches(doc: unknown, patches: Patch[]): unknown {
  return patches.reduce((value, patch) => applyPatch(value, patch), structuredClone(doc));
}

/** Applies one patch to `doc`, changing it. */
function applyPatch(doc: unknown, patch: Patch): unknown {
  if (patch.t === "merge") return mergePatch.apply(doc, patch.doc);
  return patch.ops.reduce((value, op, i) => applyOperation(value, op, i, patch.source), doc);
}

/** Applies one operation (one at a time: fast-json-patch reports index 0 for any failing operation). */
function applyOperation(doc: unknown, op: Operation, index: number, source: string): unknown {
  try {
    return jsonpatch.applyOperation(doc, op, true, true, true, index).newDocument;
  } catch (err) {
    if (err instanceof jsonpatch.JsonPatchError) throw new CliError(`patch ${source}`, describeOpError(err, index));
    throw err;
  }
}

/** "operation at index 1 (replace /machine/hostnme): the path does not exist". */
function describeOpError(err: JsonPatchError, index = err.index): string {
  const op = err.operation as { op?: unknown; path?: unknown } | undefined;
  const what = typeof op?.op === "string" && typeof op.path === "string" ? ` (${op.op} ${op.path || '""'})` : "";
  const reason = reasons[err.name] ?? err.message;
  return index === undefined ? reason : `operation at index ${index}${what}: ${reason}`;
}
