// Inspection results as kilnctl prints them: the generated protobuf message
// itself, with the node that sent it. Tables read the message's fields; JSON
// and YAML print its protobuf JSON form (camelCase names, every field, 64-bit
// numbers as strings, timestamps in RFC 3339) after `node`.
import { type DescMessage, type JsonObject, type MessageShape, toJson } from "@bufbuild/protobuf";
import { nodeOf, type WithMetadata } from "./node-messages.js";
import type { Format } from "./output.js";
import { renderList, renderPerNode } from "./output.js";
import type { Column } from "./table.js";

/** One message and the node it came from. */
export interface MessageRow<M> {
  node: string;
  msg: M;
}

/** The rows of every item in each node's message, e.g. every process of every node. */
export function rowsOf<L extends WithMetadata, M>(lists: L[], items: (list: L) => M[]): MessageRow<M>[] {
  return lists.flatMap((list) => items(list).map((msg) => ({ node: nodeOf(list), msg })));
}

/** A message as JSON and YAML print it: `node`, then its protobuf JSON without its metadata (the node is already said). */
export function messageJson<D extends DescMessage>(schema: D, row: MessageRow<MessageShape<D>>): JsonObject {
  const json = toJson(schema, row.msg, { alwaysEmitImplicit: true }) as JsonObject;
  delete json.metadata;
  return { node: row.node, ...json };
}

/** A list of messages: a JSON array, a YAML sequence or a table. */
export function renderMessages<D extends DescMessage>(format: Format, schema: D, rows: MessageRow<MessageShape<D>>[], columns: Column<MessageRow<MessageShape<D>>>[]): string {
  return renderList(format, rows, columns, (r) => messageJson(schema, r));
}

/** One message a node (memory, hostname): one object, or an array when the call fanned out. */
export function renderNodeMessages<D extends DescMessage>(
  format: Format,
  schema: D,
  messages: (MessageShape<D> & WithMetadata)[],
  columns: Column<MessageRow<MessageShape<D>>>[],
  fannedOut: boolean,
): string {
  const rows = messages.map((msg) => ({ node: nodeOf(msg), msg }));
  return renderPerNode(format, rows, columns, fannedOut, (r) => messageJson(schema, r));
}
