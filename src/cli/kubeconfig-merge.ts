// A new cluster's kubeconfig merged into an existing one, as kubectl users
// expect: every other cluster, user and context stays, with unknown fields
// and (where the yaml library keeps them) comments. Entries of the same name
// are replaced when they are this cluster's (the same server); a same-named
// cluster elsewhere is a conflict unless forced.
import { isSeq, parseDocument } from "yaml";
import { updateYaml } from "./yaml-update.js";

type Doc = Record<string, unknown>;
type Entry = { name?: unknown; [field: string]: unknown };
const lists = ["clusters", "users", "contexts"] as const;

/** The merged text, or why it was refused. */
export type MergeResult = { text: string } | { error: string };

/** `existing` (a kubeconfig's text, maybe empty) with `incoming`'s entries added or replaced and its current-context set. */
export function mergeKubeconfig(existing: string, incoming: Doc, opts: { force: boolean }): MergeResult {
  const parsed = parseExisting(existing);
  if ("error" in parsed) return parsed;
  const conflicts = opts.force ? [] : conflictsOf(parsed.value, incoming);
  if (conflicts.length > 0) return { error: `${conflicts.join("; ")}: --force replaces them` };
  const merged: Doc = { apiVersion: "v1", kind: "Config", ...parsed.value };
  for (const key of lists) merged[key] = upsert(Array.isArray(merged[key]) ? merged[key] : [], entriesOf(incoming, key));
  merged["current-context"] = incoming["current-context"];
  for (const [key, value] of Object.entries(incoming)) merged[key] ??= value;
  return { text: updateYaml(blockLists(existing), merged) };
}

/** `text` with its clusters, users and contexts in block style (a flow `[]` would take our entries in flow style). */
function blockLists(text: string): string {
  const doc = parseDocument(text);
  let changed = false;
  for (const key of lists) {
    const node = doc.get(key, true);
    if (!isSeq(node) || !node.flow) continue;
    if (node.items.length === 0) doc.set(key, null);
    else node.flow = false;
    changed = true;
  }
  return changed ? doc.toString({ lineWidth: 0 }) : text;
}

/** The existing kubeconfig as a map; empty text is an empty one. */
function parseExisting(text: string): { value: Doc } | { error: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { error: `it is not YAML (${doc.errors[0]!.message.split("\n")[0]}): fix it, or replace it with --merge=false --force` };
  const value: unknown = doc.toJS() ?? {};
  if (!isDoc(value)) return { error: "it is not a kubeconfig (expected a map at the top level): replace it with --merge=false --force" };
  for (const key of lists) {
    if (value[key] != null && !Array.isArray(value[key])) return { error: `its ${key} is not a list: fix it, or replace it with --merge=false --force` };
  }
  return { value };
}

/** Same-named entries that belong to another cluster: a cluster with another server, a context for another cluster. */
function conflictsOf(existing: Doc, incoming: Doc): string[] {
  const problems: string[] = [];
  for (const c of entriesOf(incoming, "clusters")) {
    const old = entriesOf(existing, "clusters").find((e) => e.name === c.name);
    const [was, now] = [serverOf(old), serverOf(c)];
    if (old && was !== now) problems.push(`cluster "${String(c.name)}" exists with server ${was ?? "(none)"}, not ${now}`);
  }
  for (const c of entriesOf(incoming, "contexts")) {
    const old = entriesOf(existing, "contexts").find((e) => e.name === c.name);
    const [was, now] = [clusterOf(old), clusterOf(c)];
    if (old && was !== now) problems.push(`context "${String(c.name)}" exists for cluster ${was ?? "(none)"}, not ${now}`);
  }
  return problems;
}

/** `old` with each of `fresh` replacing the entry of its name in place, or appended. */
function upsert(old: unknown[], fresh: Entry[]): unknown[] {
  const out = [...old];
  for (const e of fresh) {
    const i = out.findIndex((o) => isDoc(o) && o.name === e.name);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** The list `key` of a kubeconfig, entries only (null and non-maps dropped). */
function entriesOf(doc: Doc, key: (typeof lists)[number]): Entry[] {
  const list = doc[key];
  return Array.isArray(list) ? list.filter(isDoc) : [];
}

/** A cluster entry's server URL. */
function serverOf(e: Entry | undefined): string | undefined {
  const c = e?.cluster;
  return isDoc(c) && typeof c.server === "string" ? c.server : undefined;
}

/** A context entry's cluster name. */
function clusterOf(e: Entry | undefined): string | undefined {
  const c = e?.context;
  return isDoc(c) && typeof c.cluster === "string" ? c.cluster : undefined;
}

/** True for a YAML map. */
function isDoc(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
