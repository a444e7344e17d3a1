// `npm run build` (npx tsx hack/build.ts): bundles every entry point into
// dist/, then assembles the rootfs tree into the cache. On CI a missing entry
// point fails the build; elsewhere it is skipped with a warning.
//   --no-rootfs   bundle only
import { bundle } from "../src/image/bundle.js";
import { repoRoot } from "../src/image/paths.js";
import { buildRootfs } from "../src/image/rootfs.js";

/** Bundles, then builds the rootfs unless asked not to. */
async function main(argv: string[]): Promise<void> {
  const root = repoRoot();
  const ci = process.env.CI === "true";
  const t0 = performance.now();
  const b = await bundle({ root, requireAll: ci });
  console.log(`bundled ${b.built.join(", ") || "nothing"} into dist/ (${ms(t0)})`);
  if (argv.includes("--no-rootfs")) return;
  if (b.skipped.includes("machined.cjs")) {
    console.warn("warning: no machined bundle; skipping the rootfs");
    return;
  }
  const t1 = performance.now();
  const r = buildRootfs();
  console.log(`rootfs ${r.dir} (${r.entries.length} entries, ${r.cached ? "cached" : "built"}, ${ms(t1)})`);
}

/** Milliseconds since `t`, for the log. */
function ms(t: number): string {
  return `${Math.round(performance.now() - t)} ms`;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // esbuild has already printed its errors with their source lines.
  console.error(`build failed: ${chain(err)}`);
  process.exitCode = 1;
});

/** An error and its causes on one line. */
function chain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
  return parts.join(": ");
}
