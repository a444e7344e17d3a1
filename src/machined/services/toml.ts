// TOML basic strings for the configs machined generates: user values are
// quoted here and never interpolated raw.

const named: Record<string, string> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\" };

// A surrogate without its other half: no Unicode scalar, so TOML cannot hold it.
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` as a TOML basic string: quotes, backslashes and control characters escaped; a lone surrogate becomes U+FFFD. */
export function tomlString(text: string): string {
  const escaped = text
    .replace(loneSurrogate, "\ufffd")
    .replace(/["\\\u0000-\u001f\u007f]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `"${escaped}"`;
}

/** A list of strings as a TOML array: ["a", "b"]. */
export function tomlArray(items: readonly string[]): string {
  return `[${items.map(tomlString).join(", ")}]`;
}
