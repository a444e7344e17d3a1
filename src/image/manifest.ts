// rootfs/manifest.yaml: which host programs go into the image, which empty
// directories it needs as mount points, and which links it carries. Parsing
// collects every problem, each naming its path, what was expected and what came.
import { posix } from "node:path";
import { parse as parseYaml } from "yaml";

/** One host program, or every regular file of a host directory. */
export interface BinarySpec {
  /** Candidate host paths; the first that exists is used. Exactly one of from/dir. */
  from?: string[];
  dir?: string;
  /** Destination: for `from`, a file path (default /usr/bin/<name>); for `dir`, a directory (default: the same). */
  to?: string;
  /** Skip quietly when absent instead of failing. */
  optional: boolean;
}

export interface Manifest {
  binaries: BinarySpec[];
  mountPoints: string[];
  /** Link path in the image → target. */
  symlinks: Record<string, string>;
}

export type ManifestResult = { value: Manifest } | { errors: string[] };

/** Variables a manifest path may use as ${NAME}. */
export type ManifestVars = Record<string, string>;

/** Parses and validates manifest text; `vars` are expanded in host paths. */
export function parseManifest(text: string, vars: ManifestVars = {}): ManifestResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { errors: [`manifest: invalid YAML: ${(err as Error).message}`] };
  }
  const errors: string[] = [];
  const m = checkManifest(doc, vars, errors);
  return errors.length > 0 || !m ? { errors } : { value: m };
}

/** Validates the top level. */
function checkManifest(doc: unknown, vars: ManifestVars, errors: string[]): Manifest | undefined {
  if (!isRecord(doc)) {
    errors.push(`manifest: expected a mapping, got ${describe(doc)}`);
    return undefined;
  }
  unknownKeys(doc, ["binaries", "mountPoints", "symlinks"], "", errors);
  const binaries = list(doc.binaries, "binaries", errors).map((b, i) => checkBinary(b, `binaries[${i}]`, vars, errors));
  const mountPoints = list(doc.mountPoints, "mountPoints", errors).map((p, i) => absPath(p, `mountPoints[${i}]`, {}, errors));
  const symlinks = checkSymlinks(doc.symlinks, errors);
  return { binaries: binaries.filter((b) => b !== undefined), mountPoints, symlinks };
}

/** Validates one binaries[] entry. */
function checkBinary(b: unknown, at: string, vars: ManifestVars, errors: string[]): BinarySpec | undefined {
  if (!isRecord(b)) {
    errors.push(`${at}: expected a mapping with \`from\` or \`dir\`, got ${describe(b)}`);
    return undefined;
  }
  unknownKeys(b, ["from", "dir", "to", "optional"], `${at}.`, errors);
  if ((b.from === undefined) === (b.dir === undefined)) errors.push(`${at}: expected exactly one of \`from\` or \`dir\``);
  if (b.optional !== undefined && typeof b.optional !== "boolean") errors.push(`${at}.optional: expected a boolean, got ${describe(b.optional)}`);
  const spec: BinarySpec = { optional: b.optional === true };
  if (b.from !== undefined) spec.from = fromList(b.from, `${at}.from`, vars, errors);
  if (b.dir !== undefined) spec.dir = absPath(b.dir, `${at}.dir`, vars, errors);
  if (b.to !== undefined) spec.to = absPath(b.to, `${at}.to`, {}, errors);
  return spec;
}

/** `from`: one path or a list of candidates. */
function fromList(v: unknown, at: string, vars: ManifestVars, errors: string[]): string[] {
  if (typeof v === "string") return [absPath(v, at, vars, errors)];
  if (Array.isArray(v) && v.length > 0) return v.map((p, i) => absPath(p, `${at}[${i}]`, vars, errors));
  errors.push(`${at}: expected a path or a non-empty list of paths, got ${describe(v)}`);
  return [];
}

/** Validates `symlinks`: absolute link paths to non-empty targets. */
function checkSymlinks(v: unknown, errors: string[]): Record<string, string> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    errors.push(`symlinks: expected a mapping of link path to target, got ${describe(v)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [link, target] of Object.entries(v)) {
    const path = absPath(link, `symlinks[${JSON.stringify(link)}]`, {}, errors);
    if (typeof target !== "string" || target === "") errors.push(`symlinks[${JSON.stringify(link)}]: expected a target path, got ${describe(target)}`);
    else out[path] = target;
  }
  return out;
}

/** An absolute, normalized path with ${VARS} expanded; records an error otherwise. */
function absPath(v: unknown, at: string, vars: ManifestVars, errors: string[]): string {
  const expanded = typeof v === "string" ? expandVars(v, at, vars, errors) : undefined;
  if (expanded?.includes("${")) return "";
  if (expanded === undefined || !expanded.startsWith("/")) {
    errors.push(`${at}: expected an absolute path, got ${describe(v)}`);
    return "";
  }
  return posix.normalize(expanded);
}

/** Replaces ${NAME} with vars[NAME]; records unknown names. */
function expandVars(v: string, at: string, vars: ManifestVars, errors: string[]): string {
  return v.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (whole, name: string) => {
    if (vars[name] !== undefined) return vars[name];
    errors.push(`${at}: unknown variable \${${name}} (known: ${Object.keys(vars).join(", ") || "none"})`);
    return whole;
  });
}

/** The array at `v` (absent is empty); records an error for anything else. */
function list(v: unknown, at: string, errors: string[]): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  errors.push(`${at}: expected a list, got ${describe(v)}`);
  return [];
}

/** Records every key of `obj` not in `known`. */
function unknownKeys(obj: Record<string, unknown>, known: string[], prefix: string, errors: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) errors.push(`${prefix}${k}: unknown key (expected one of ${known.join(", ")})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value and its type, for error messages: `"x" (string)`. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${JSON.stringify(v)} (${typeof v})`;
}
