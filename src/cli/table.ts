// A small table printer: upper-case headers, columns aligned with two spaces,
// optional columns dropped when every row leaves them empty.

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Dropped from the table when empty in every row (e.g. NODE). */
  optional?: boolean;
  /** Minimum width, for rows printed one at a time as they stream. */
  width?: number;
}

/** The columns to print for these rows. */
export function visibleColumns<T>(columns: Column<T>[], rows: T[]): Column<T>[] {
  return columns.filter((c) => !c.optional || rows.some((r) => c.value(r) !== ""));
}

/** An aligned table of rows, header first, each line ending in a newline. */
export function formatTable<T>(columns: Column<T>[], rows: T[]): string {
  const cols = visibleColumns(columns, rows);
  const cells = [cols.map((c) => c.header), ...rows.map((r) => cols.map((c) => c.value(r)))];
  const widths = cols.map((c, i) => Math.max(c.width ?? 0, ...cells.map((line) => line[i]!.length)));
  return cells.map((line) => formatLine(line, widths)).join("");
}

/** One line of cells padded to `widths`; the last cell is not padded. */
export function formatLine(cells: string[], widths: number[]): string {
  const padded = cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)));
  return `${padded.join("  ").trimEnd()}\n`;
}
