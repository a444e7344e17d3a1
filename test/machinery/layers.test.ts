// The layer rules (.dependency-cruiser.cjs, `npm run layers`): a tree that
// breaks them fails, naming each rule it breaks, and kiln's own tree passes.
// One checker run a tree: it takes seconds to start.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const depcruise = join(repo, "node_modules/.bin/depcruise");
const rules = join(repo, ".dependency-cruiser.cjs");

/** Runs the checker as `npm run layers` does, on `dir`/src: its exit status and its "rule: from → to" lines. */
function check(dir: string): { status: number | null; errors: string[]; output: string } {
  const r = spawnSync(depcruise, ["--config", rules, "src"], { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const output = r.stdout + r.stderr;
  const errors = [...output.matchAll(/^\s*error (\S+): (\S+) → (\S*)/gm)].map((m) => `${m[1]}: ${m[2]} → ${m[3]}`);
  return { status: r.status, errors, output };
}

/** A scratch tree holding `files` (path → source), removed when the tests end. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-layers-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const planted = check(
  tree({
    // init imports machined, once for a value and once for a type
    "src/machined/service.ts": "export type Platform = string;\nexport const runtime = 1;\n",
    "src/init/mounts.ts": 'import { runtime } from "../machined/service.js";\nexport const early = runtime;\n',
    "src/init/types.ts": 'import type { Platform } from "../machined/service.js";\nexport const p: Platform = "metal";\n',
    // PID 1 code imports the builder
    "src/image/disk-layout.ts": "export const SECTOR = 512;\n",
    "src/machined/install/gpt.ts": 'import { SECTOR } from "../../image/disk-layout.js";\nexport const lba = SECTOR;\n',
    // the contract imports a library
    "src/config/schema.ts": "export const schema = {};\n",
    "src/machinery/paths.ts": 'import { schema } from "../config/schema.js";\nexport const p = schema;\n',
    // a two-file cycle
    "src/pki/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
    "src/pki/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
    // an import of nothing
    "src/net/dhcp.ts": 'import { gone } from "../sys/gone.js";\nexport const x = gone;\n',
    // and imports the layers allow
    "src/sys/sys.ts": "export const sys = {};\n",
    "src/init/reaper.ts": 'import { sys } from "../sys/sys.js";\nimport { p } from "../machinery/paths.js";\nexport const r = [sys, p];\n',
    "src/machined/disks.ts": 'import { early } from "../init/mounts.js";\nimport { schema } from "../config/schema.js";\nexport const d = [early, schema];\n',
  }),
);

t.test("a tree that breaks the layers fails", async (t) => {
  t.not(planted.status, 0, "the checker exits non-zero");
});

t.test("init importing machined names the rule, type-only imports included", async (t) => {
  t.ok(planted.errors.includes("init-is-below-machined: src/init/mounts.ts → src/machined/service.ts"), "init-is-below-machined: src/init/mounts.ts → src/machined/service.ts", { found: planted.errors });
  t.ok(planted.errors.includes("init-is-below-machined: src/init/types.ts → src/machined/service.ts"), "init-is-below-machined: src/init/types.ts → src/machined/service.ts", { found: planted.errors });
});

t.test("PID 1 code importing the image builder names the rule", async (t) => {
  t.ok(planted.errors.includes("machine-never-imports-the-builder: src/machined/install/gpt.ts → src/image/disk-layout.ts"), "machine-never-imports-the-builder: src/machined/install/gpt.ts → src/image/disk-layout.ts", { found: planted.errors });
});

t.test("the contract importing anything else of ours names the rule", async (t) => {
  t.ok(planted.errors.includes("machinery-imports-only-itself: src/machinery/paths.ts → src/config/schema.ts"), "machinery-imports-only-itself: src/machinery/paths.ts → src/config/schema.ts", { found: planted.errors });
});

t.test("a two-file import cycle names the rule", async (t) => {
  t.ok(planted.errors.some((e) => /^no-circular: src\/pki\/[ab]\.ts → $/.test(e)), "no-circular: src/pki/a.ts → src/pki/b.ts → src/pki/a.ts", { found: planted.errors });
});

t.test("an import that does not resolve names the rule, so no rule passes by not looking", async (t) => {
  t.ok(planted.errors.includes("not-to-unresolvable: src/net/dhcp.ts → ../sys/gone.js"), "not-to-unresolvable: src/net/dhcp.ts → ../sys/gone.js", { found: planted.errors });
});

t.test("imports the layers allow are not reported", async (t) => {
  t.same(planted.errors.filter((e) => /src\/(init\/reaper|machined\/disks)\.ts/.test(e)), []);
});

t.test("kiln's tree keeps its layers", async (t) => {
  const r = check(repo);
  t.equal(r.status, 0, "the checker exits 0", { output: r.output });
  t.same(r.errors, []);
});
