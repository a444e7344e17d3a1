// Reading the config text as YAML: one document, syntax errors with their
// line and column, and numbers with leading zeros kept as written.
import { type Document, LineCounter, parseAllDocuments, type ScalarTag, type YAMLError } from "yaml";
import { duplicateKeyOffsets } from "./unique-keys.js";

export type Loaded = { value: unknown; warnings: string[] } | { errors: string[]; warnings: string[] };

/**
 * YAML 1.2 reads `0644` as decimal 644, a silent trap for file modes. Plain
 * scalars of digits with a leading zero stay strings, so "0644" is octal to
 * the schema and `mtu: 01500` is an error instead of a guess.
 */
export const leadingZeroIsString: ScalarTag = {
  tag: "tag:yaml.org,2002:str",
  default: true,
  test: /^0[0-9]+$/,
  identify: () => false,
  resolve: (source) => source,
};

/** "YAML syntax error at line 3, column 5: …" for a parser error or warning. */
function describeYamlError(error: YAMLError, lines: LineCounter, kind: string): string {
  const { line, col } = lines.linePos(error.pos[0]);
  // The parser recurses per level of nesting: running out of stack means the document nests too deeply.
  const message = /Maximum call stack size exceeded/.test(error.message) ? "the document nests too deeply here; flatten it" : error.message;
  return `YAML ${kind} at line ${line}, column ${col}: ${message}`;
}

/** "YAML syntax error at line 5, column 3: Map keys must be unique" for each repeated key of `doc`. */
function duplicateKeys(doc: Document.Parsed, lines: LineCounter): string[] {
  return duplicateKeyOffsets(doc).map((pos) => {
    const { line, col } = lines.linePos(pos);
    return `YAML syntax error at line ${line}, column ${col}: Map keys must be unique`;
  });
}

/** The documents in `text` that hold something (a lone "---" or comments hold nothing). */
function contentful(docs: Document.Parsed[]): Document.Parsed[] {
  return docs.filter((d) => d.contents !== null || d.errors.length > 0);
}

/** Parses `text` as a single YAML document and returns its plain value. */
export function loadYaml(text: string): Loaded {
  const lines = new LineCounter();
  // uniqueKeys: false turns off yaml's quadratic check; duplicateKeys does it in linear time.
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, customTags: (t) => [leadingZeroIsString, ...t] });
  const all = Array.from(docs);
  const warnings = all.flatMap((d) => d.warnings.map((w) => describeYamlError(w, lines, "warning")));
  const errors = all.flatMap((d) => [...d.errors.map((e) => describeYamlError(e, lines, "syntax error")), ...duplicateKeys(d, lines)]);
  if (errors.length > 0) return { errors, warnings };
  const filled = contentful(all);
  if (filled.length === 0) return { errors: [emptyDocument], warnings };
  if (filled.length > 1) return { errors: [`expected one YAML document, got ${filled.length} (separated by "---")`], warnings };
  return toValue(filled[0]!, warnings);
}

const emptyDocument =
  "the document is empty; expected a map with apiVersion: kiln/v1alpha1, kind: MachineConfig and machine";

/** The document as plain data; alias bombs and the like become errors. */
function toValue(doc: Document.Parsed, warnings: string[]): Loaded {
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), warnings };
  } catch (err) {
    return { errors: [`YAML error: ${err instanceof Error ? err.message : String(err)}`], warnings };
  }
}
