// The kernel command line (/proc/cmdline) as the kernel reads it: words
// split on whitespace, double quotes group (and are dropped), `--` ends the
// kernel's part (the rest is init's), and a later `key=value` overrides an
// earlier one.

/** The parameters before `--`, in order: [key, value]; a bare word has value undefined. */
export function parseCmdline(text: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (const word of words(text)) {
    if (word === "--") break;
    const eq = word.indexOf("=");
    out.push(eq < 0 ? [word, undefined] : [word.slice(0, eq), word.slice(eq + 1)]);
  }
  return out;
}

/** The value of the last `key=` on the command line, or undefined. */
export function cmdlineValue(text: string, key: string): string | undefined {
  return parseCmdline(text).findLast(([k, v]) => k === key && v !== undefined)?.[1];
}

/** Splits on whitespace outside double quotes; the quotes themselves are dropped. */
function words(text: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      word ??= "";
    } else if (!quoted && /\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else word = (word ?? "") + ch;
  }
  if (word !== undefined) out.push(word);
  return out;
}
