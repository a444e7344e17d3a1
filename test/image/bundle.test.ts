// Bundling: one file per entry, shebang and mode, koffi left external,
// import.meta.url and require() working in both formats, missing entries.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { bundle, type Entry, entries } from "../../src/image/bundle.js";

/** A scratch project with a CJS dependency and an entry that reports on itself. */
function project(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), "kiln-bundle-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "src"));
  writeFileSync(join(root, "src/dep.cjs"), 'module.exports = require("node:path").basename("/a/b.txt");\n');
  writeFileSync(
    join(root, "src/main.ts"),
    'import dep from "./dep.cjs";\nconst koffi = () => import("koffi");\nconsole.log(JSON.stringify({ dep, url: import.meta.url, k: typeof koffi }));\n',
  );
  return root;
}

const entry = (format: "cjs" | "esm", out: string): Entry => ({ src: "src/main.ts", out, format, image: false, shebang: "#!/usr/bin/env node" });

t.test("bundles CJS and ESM entries that run and know their own URL", async (t) => {
  const root = project(t);
  const r = await bundle({ root, only: [entry("cjs", "m.cjs"), entry("esm", "m.mjs")] });
  t.same(r, { built: ["m.cjs", "m.mjs"], skipped: [] });
  for (const out of ["m.cjs", "m.mjs"]) {
    const file = join(root, "dist", out);
    const text = readFileSync(file, "utf8");
    t.ok(text.startsWith("#!/usr/bin/env node\n"), `${out} starts with the shebang`);
    t.equal(statSync(file).mode & 0o777, 0o755, `${out} is executable`);
    t.match(text, /["']koffi["']/, `${out} leaves koffi external`);
    const got = JSON.parse(execFileSync(file, { encoding: "utf8" })) as { dep: string; url: string };
    t.same(got, { dep: "b.txt", url: `file://${file}`, k: "function" });
  }
});

t.test("a missing entry point is skipped with a warning, or fails when all are required", async (t) => {
  const root = project(t);
  const missing: Entry = { src: "src/nope.ts", out: "nope.cjs", format: "cjs", image: false };
  const warnings: string[] = [];
  t.same(await bundle({ root, only: [missing], warn: (m) => warnings.push(m) }), { built: [], skipped: ["nope.cjs"] });
  t.match(warnings, [/src\/nope\.ts does not exist/]);
  await t.rejects(bundle({ root, only: [missing], requireAll: true }), /bundling failed: entry point src\/nope\.ts does not exist/);
});

t.test("declares machined as an executable CJS image program and the CLI as ESM", async (t) => {
  t.match(entries.find((e) => e.out === "machined.cjs"), { src: "src/machined/main.ts", format: "cjs", image: true, shebang: "#!/usr/bin/node" });
  t.match(entries.find((e) => e.out === "stage1-sandbox.cjs"), { src: "src/init/stage1-sandbox.ts", format: "cjs", image: false });
  t.match(entries.find((e) => e.out === "kilnctl.js"), { src: "src/cli/main.ts", format: "esm" });
  t.match(entries.find((e) => e.out === "sandbox-host.cjs"), { src: "src/provision/sandbox/host.ts", format: "cjs" });
});
