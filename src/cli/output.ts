// Renders command results as JSON, YAML or a table. Lists print as arrays,
// single results as one object; streams print one JSON object per line, one
// YAML document per item, or table rows under one header.
import { stringify } from "yaml";
import { type Column, formatLine, formatTable } from "./table.js";

export const formats = ["table", "json", "yaml"] as const;
export type Format = (typeof formats)[number];

/** What JSON and YAML print for a row: by default the row itself. */
type DataOf<T> = (row: T) => unknown;
const itself = <T>(row: T): unknown => row;

/** A list of records: a JSON array, a YAML sequence or a table. */
export function renderList<T extends object>(format: Format, rows: T[], columns: Column<T>[], data: DataOf<T> = itself): string {
  if (format === "json") return `${JSON.stringify(rows.map(data), null, 2)}\n`;
  if (format === "yaml") return rows.length === 0 ? "[]\n" : stringify(rows.map(data));
  return formatTable(columns, rows);
}

/**
 * What a per-node call prints: one object when it targeted one machine, a
 * list when it fanned out (-n a,b) — whatever number of nodes answered, so a
 * script sees the same shape when a node fails.
 */
export function renderPerNode<T extends object>(format: Format, rows: T[], columns: Column<T>[], fannedOut: boolean, data: DataOf<T> = itself): string {
  return !fannedOut && rows.length === 1 ? renderOne(format, rows[0]!, columns, data) : renderList(format, rows, columns, data);
}

/** One record: a JSON object, a YAML mapping or a one-row table. */
export function renderOne<T extends object>(format: Format, row: T, columns: Column<T>[], data: DataOf<T> = itself): string {
  if (format === "json") return `${JSON.stringify(data(row), null, 2)}\n`;
  if (format === "yaml") return stringify(data(row));
  return formatTable(columns, [row]);
}

/** A printer for records that arrive one at a time. */
export function createStreamPrinter<T extends object>(format: Format, columns: Column<T>[]): (row: T) => string {
  let first = true;
  return (row) => {
    const out = renderStreamItem(format, row, columns, first);
    first = false;
    return out;
  };
}

/** One streamed record: a JSON line, a YAML document, or a table row (with the header first). */
function renderStreamItem<T extends object>(format: Format, row: T, columns: Column<T>[], first: boolean): string {
  if (format === "json") return `${JSON.stringify(row)}\n`;
  if (format === "yaml") return `---\n${stringify(row)}`;
  const cols = columns.filter((c) => !c.optional || c.value(row) !== "");
  const widths = cols.map((c) => c.width ?? c.header.length);
  const line = formatLine(cols.map((c) => c.value(row)), widths);
  return first ? formatLine(cols.map((c) => c.header), widths) + line : line;
}
