// A unified diff of two texts, line by line, as `diff -u` prints it: what
// `edit config --dry-run` and `patch config --dry-run` show.

interface DiffLine {
  mark: " " | "-" | "+";
  text: string;
}

const context = 3;

/** The unified diff from `before` to `after`, headed by their names; "" when they are equal. */
export function unifiedDiff(before: string, after: string, names: { from: string; to: string }): string {
  const lines = diffLines(splitLines(before), splitLines(after));
  const hunks = hunkRanges(lines).map(([start, end]) => formatHunk(lines, start, end));
  return hunks.length === 0 ? "" : `--- ${names.from}\n+++ ${names.to}\n${hunks.join("")}`;
}

/** The text's lines, without the empty one after a final newline. */
function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Lengths of the longest common subsequence of every pair of suffixes of `a` and `b`. */
function lcsTable(a: string[], b: string[]): Int32Array[] {
  const table = Array.from({ length: a.length + 1 }, () => new Int32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  return table;
}

/** Every line of both texts, marked kept, removed or added; removals before additions. */
function diffLines(a: string[], b: string[]): DiffLine[] {
  const table = lcsTable(a, b);
  const out: DiffLine[] = [];
  let [i, j] = [0, 0];
  while (i < a.length || j < b.length) {
    const mark = nextMark(a, b, i, j, table);
    out.push({ mark, text: mark === "+" ? b[j]! : a[i]! });
    if (mark !== "+") i++;
    if (mark !== "-") j++;
  }
  return out;
}

/** Whether line i of `a` and line j of `b` are kept, or which one goes. */
function nextMark(a: string[], b: string[], i: number, j: number, table: Int32Array[]): DiffLine["mark"] {
  if (i < a.length && j < b.length && a[i] === b[j]) return " ";
  if (i < a.length && (j === b.length || table[i + 1]![j]! >= table[i]![j + 1]!)) return "-";
  return "+";
}

/** [start, end) ranges of `lines` around the changes, with context, overlapping ones merged. */
function hunkRanges(lines: DiffLine[]): [number, number][] {
  const ranges: [number, number][] = [];
  lines.forEach((line, k) => {
    if (line.mark === " ") return;
    const [start, end] = [Math.max(0, k - context), Math.min(lines.length, k + context + 1)];
    const last = ranges.at(-1);
    if (last && start <= last[1]) last[1] = end;
    else ranges.push([start, end]);
  });
  return ranges;
}

/** One hunk: its `@@ -a,n +b,m @@` header and lines. */
function formatHunk(lines: DiffLine[], start: number, end: number): string {
  const count = (from: number, to: number, skip: DiffLine["mark"]) => lines.slice(from, to).filter((l) => l.mark !== skip).length;
  const [aBefore, bBefore] = [count(0, start, "+"), count(0, start, "-")];
  const [aLen, bLen] = [count(start, end, "+"), count(start, end, "-")];
  const range = (before: number, len: number) => `${before + (len > 0 ? 1 : 0)},${len}`;
  const body = lines.slice(start, end).map((l) => `${l.mark}${l.text}\n`);
  return `@@ -${range(aBefore, aLen)} +${range(bBefore, bLen)} @@\n${body.join("")}`;
}
