// How a validation message quotes a found value or key: never whole, so a
// 250 KB string is not repeated back (formats.ts and issues.ts both quote).

/** The most characters of a found string, or of a key, that a message quotes. */
export const maxQuotedChars = 60;

/** `text` JSON-quoted, cut to `maxQuotedChars` with "..." so a message never repeats a long value. */
export function quoted(text: string): string {
  return JSON.stringify(text.length > maxQuotedChars ? `${text.slice(0, maxQuotedChars - 3)}...` : text);
}
