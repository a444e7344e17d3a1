// A YAML text changed to hold a new value, touching only what changed: the
// comments, key order and styles of everything else stay as written, so a
// patch's diff shows the patch and nothing more.
import { type Document, isMap, isNode, isPair, isScalar, isSeq, parseDocument, stringify, type YAMLMap, type YAMLSeq } from "yaml";
import { leadingZeroIsString } from "../config/load-yaml.js";

const options = { lineWidth: 0, flowCollectionPadding: false };

/** `text` updated to hold `value`; printed afresh when `text` is not one clean YAML document. */
export function updateYaml(text: string, value: unknown): string {
  const doc: Document = parseDocument(text, { customTags: (tags) => [leadingZeroIsString, ...tags] });
  if (doc.errors.length > 0) return stringify(value, options);
  doc.contents = update(doc, doc.contents, value) as Document["contents"];
  return doc.toString(options);
}

/** The node to hold `value`: `node` itself, updated in place where it can be, else a new one with its comments. */
function update(doc: Document, node: unknown, value: unknown): unknown {
  if (isMap(node) && isRecord(value)) return updateMap(doc, node, value);
  if (isSeq(node) && Array.isArray(value)) return updateSeq(doc, node, value);
  if (isScalar(node) && (value === null || typeof value !== "object")) return Object.assign(node, { value });
  const created = doc.createNode(value);
  if (isNode(node)) Object.assign(created, { commentBefore: node.commentBefore, comment: node.comment });
  return created;
}

/** Drops the keys `value` lacks, updates the ones it keeps, and appends the new ones. */
function updateMap(doc: Document, map: YAMLMap, value: Record<string, unknown>): YAMLMap {
  map.items = map.items.filter((pair) => Object.hasOwn(value, keyOf(pair)));
  for (const [key, v] of Object.entries(value)) {
    const pair = map.items.find((p) => keyOf(p) === key);
    if (pair) pair.value = update(doc, pair.value, v);
    else map.items.push(doc.createPair(key, v));
  }
  return map;
}

/** Updates the items position by position, dropping or appending at the end. */
function updateSeq(doc: Document, seq: YAMLSeq, value: unknown[]): YAMLSeq {
  seq.items = value.map((v, i) => update(doc, seq.items[i], v));
  return seq;
}

/** A map entry's key as a string. */
function keyOf(pair: unknown): string {
  const key = isPair(pair) ? pair.key : undefined;
  return String(isScalar(key) ? key.value : key);
}

/** True for a plain object (a YAML map), not a list or null. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
