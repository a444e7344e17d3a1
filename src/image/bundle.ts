// Bundles each entry point into one file in dist/ with esbuild: fewer files to
// resolve at boot, no node_modules in the image except koffi, which loads a
// native .node file and so stays external.
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildOptions } from "esbuild";

/** One program kiln ships. */
export interface Entry {
  /** Source path relative to the repository. */
  src: string;
  /** Output file name in dist/. */
  out: string;
  format: "cjs" | "esm";
  /** Goes into the image under /usr/lib/kiln (otherwise it runs on the host). */
  image: boolean;
  /** An interpreter line, for programs executed directly. */
  shebang?: string;
  /** Not required even on CI (a program some builds may not have yet). */
  optional?: boolean;
}

/** Every entry point. machined is /sbin/init (a link to it), so it is CJS with a shebang. */
export const entries: Entry[] = [
  { src: "src/machined/main.ts", out: "machined.cjs", format: "cjs", image: true, shebang: "#!/usr/bin/node" },
  { src: "src/init/stage1-metal.ts", out: "stage1-metal.cjs", format: "cjs", image: false, shebang: "#!/usr/bin/node" },
  { src: "src/init/stage1-sandbox.ts", out: "stage1-sandbox.cjs", format: "cjs", image: false },
  { src: "src/provision/sandbox/host.ts", out: "sandbox-host.cjs", format: "cjs", image: false },
  { src: "src/cli/main.ts", out: "kilnctl.js", format: "esm", image: false, shebang: "#!/usr/bin/env node" },
  { src: "src/apid/main.ts", out: "apid.cjs", format: "cjs", image: true, shebang: "#!/usr/bin/node" },
  // machined's config parser thread: next to machined.cjs, which starts it (src/machined/config-parser.ts).
  { src: "src/config/parse-worker.ts", out: "config-worker.cjs", format: "cjs", image: true },
];

/** Modules left to Node's resolver at run time. */
export const externals = ["koffi"];

export interface BundleOptions {
  /** Repository root. */
  root: string;
  /** Output directory (default <root>/dist). */
  outDir?: string;
  /** Fail when an entry's source is missing (CI); otherwise warn and skip it. */
  requireAll?: boolean;
  /** Called with each warning. */
  warn?: (message: string) => void;
  /** Only these entries (default: all). */
  only?: Entry[];
}

export interface BundleResult {
  built: string[];
  skipped: string[];
}

/** Bundles every entry point whose source exists; one failure does not stop the others. */
export async function bundle(opts: BundleOptions): Promise<BundleResult> {
  const outDir = opts.outDir ?? join(opts.root, "dist");
  const warn = opts.warn ?? ((m) => console.warn(`warning: ${m}`));
  const { build } = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  const result: BundleResult = { built: [], skipped: [] };
  const failed: Error[] = [];
  for (const e of opts.only ?? entries) {
    if (!existsSync(join(opts.root, e.src))) {
      if (opts.requireAll && !e.optional) failed.push(new Error(`entry point ${e.src} does not exist`));
      else if (!e.optional) warn(`entry point ${e.src} does not exist yet; skipping ${e.out}`);
      result.skipped.push(e.out);
      continue;
    }
    await buildEntry(build, opts.root, outDir, e).then(() => result.built.push(e.out), (err: Error) => failed.push(err));
  }
  if (failed.length > 0) throw new AggregateError(failed, `bundling failed: ${failed.map((f) => f.message).join("; ")}`);
  return result;
}

/** Runs esbuild for one entry and marks executables executable. */
async function buildEntry(build: (o: BuildOptions) => Promise<unknown>, root: string, outDir: string, e: Entry): Promise<void> {
  const outfile = join(outDir, e.out);
  try {
    await build(esbuildOptions(root, e, outfile));
  } catch (err) {
    throw new Error(`bundling ${e.src}`, { cause: err });
  }
  if (e.shebang) chmodSync(outfile, 0o755);
}

/** esbuild options for one entry. */
export function esbuildOptions(root: string, e: Entry, outfile: string): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, e.src)],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: e.format,
    external: externals,
    banner: { js: banner(root, e) },
    define: e.format === "cjs" ? cjsImportMeta : {},
    logLevel: "warning",
    legalComments: "none",
    charset: "utf8",
  };
}

// In CJS output import.meta is empty; these stand-ins keep import.meta.url
// (used to find files next to the module) working.
const cjsImportMeta = {
  "import.meta.url": "__kiln_import_meta_url",
  "import.meta.dirname": "__dirname",
  "import.meta.filename": "__filename",
};

/** Text before the bundle: shebang (unless the source has one), then shims. */
function banner(root: string, e: Entry): string {
  const own = readFileSync(join(root, e.src), "utf8").startsWith("#!");
  const lines = e.shebang && !own ? [e.shebang] : [];
  if (e.format === "cjs") lines.push('var __kiln_import_meta_url = require("node:url").pathToFileURL(__filename).href;');
  // Bundled CommonJS dependencies call require() for Node built-ins; ESM has none.
  else lines.push('import { createRequire as __kilnCreateRequire } from "node:module"; const require = __kilnCreateRequire(import.meta.url);');
  return lines.join("\n");
}
