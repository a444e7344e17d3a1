// The image's programs run through a generated loader with a V8 code cache
// made at build time: the loader runs the bundle as CommonJS (its require
// finds externals in node_modules, __filename and __dirname are the bundle's,
// its exit code is the program's), V8 takes the cache the build made, a cache
// made for other V8 flags is refused and the program still runs, the cache
// is reproducible (whatever Script id the making process gave it), making it
// runs nothing of the program, and a bundle that does not compile fails the
// build naming why.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t, { type Test } from "tap";
import { bundleName, codeCached, hostNode, isolated, loaderSource, withoutScriptId } from "../../src/image/code-cache.js";
import { bundle, entries } from "../../src/image/bundle.js";
import { repoRoot } from "../../src/image/paths.js";

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-code-cache-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A bundle as esbuild writes one: a shebang, an external from node_modules,
 * a top level that runs, and a main that making the cache must not start
 * (it leaves a file behind when it runs).
 */
const fixture = `#!/usr/bin/node
"use strict";
const greet = require("greeting");
const { writeFileSync } = require("node:fs");
const state = process[Symbol.for("kiln.codeCache")];
function main() {
  writeFileSync(process.env.STARTED, "started");
  console.log(JSON.stringify({ state, greeting: greet(), filename: __filename, dirname: __dirname, self: module.filename, args: process.argv.slice(2) }));
  process.exitCode = Number(process.env.EXIT ?? 0);
}
main();
`;

/** A node_modules with the external the fixture requires. */
function nodeModules(dir: string): string {
  const nm = join(dir, "node_modules");
  mkdirSync(join(nm, "greeting"), { recursive: true });
  writeFileSync(join(nm, "greeting/index.js"), 'module.exports = () => "hello";\n');
  return nm;
}

/** Copies a made program's three files into `to` (as the image's /usr/lib/kiln holds them, beside node_modules). */
function install(p: { loader: string; bundle: string; cache: string }, to: string): string {
  mkdirSync(to, { recursive: true });
  for (const f of [p.loader, p.bundle, p.cache]) writeFileSync(join(to, f.slice(dirname(f).length + 1)), readFileSync(f), { mode: 0o755 });
  return join(to, "prog.cjs");
}

function run(file: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []) {
  const r = spawnSync(hostNode, [...nodeArgs, file, "a", "b"], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined, stderr: r.stderr };
}

t.test("the loader runs the bundle from its cache, as CommonJS", async (t) => {
  const dir = scratch(t);
  const src = join(dir, "prog.cjs");
  writeFileSync(src, fixture);
  const started = join(dir, "started");
  const p = codeCached(join(dir, "cache"), src, "prog.cjs", nodeModules(dir), "/usr/lib/kiln");
  t.notOk(existsSync(started), "making the cache loaded the program without starting it");
  t.equal(p.bundle.slice(-"prog.bundle.cjs".length), "prog.bundle.cjs");
  t.ok(readFileSync(p.bundle, "utf8").startsWith("///usr/bin/node\n"), "the bundle's shebang is a comment (same length: line numbers stay)");
  t.equal(readFileSync(p.loader, "utf8"), loaderSource("prog.cjs"));

  const lib = join(dir, "usr/lib/kiln");
  const loader = install(p, lib);
  nodeModules(lib);
  const r = run(loader, { STARTED: started, EXIT: "3" });
  t.equal(r.code, 3, `the program's exit code is the process's (${r.stderr})`);
  t.same(r.out, { state: "accepted", greeting: "hello", filename: join(lib, bundleName("prog.cjs")), dirname: lib, self: join(lib, bundleName("prog.cjs")), args: ["a", "b"] }, "V8 took the cache; require, __filename, __dirname and argv are the program's");
  t.ok(existsSync(started), "the program started");

  const other = run(loader, { STARTED: started }, ["--no-lazy"]);
  t.equal(other.out?.state, "rejected", "a node with other V8 flags refuses the cache");
  t.equal(other.out?.greeting, "hello", "and runs the program from source");

  rmSync(join(lib, "prog.bundle.cjs.v8cache"));
  t.equal(run(loader, { STARTED: started }).out?.state, "absent", "without a cache the program runs from source");
});

t.test("the cache is reproducible and made once per bundle", async (t) => {
  const dir = scratch(t);
  const src = join(dir, "prog.cjs");
  writeFileSync(src, fixture);
  const nm = nodeModules(dir);
  const a = codeCached(join(dir, "a"), src, "prog.cjs", nm, "/usr/lib/kiln");
  const b = codeCached(join(dir, "b"), src, "prog.cjs", nm, "/usr/lib/kiln");
  t.not(a.cache, b.cache);
  t.ok(readFileSync(a.cache).equals(readFileSync(b.cache)), "two builds make the same bytes");
  t.equal(codeCached(join(dir, "a"), src, "prog.cjs", nm, "/usr/lib/kiln").cache, a.cache, "an unchanged bundle reuses its cache");
  writeFileSync(src, `${fixture}// changed\n`);
  t.not(codeCached(join(dir, "a"), src, "prog.cjs", nm, "/usr/lib/kiln").cache, a.cache, "a changed bundle gets a new one");
});

/**
 * A cache of `source` and its twin, made as the loader makes them by the
 * image's node after it compiled `before` other scripts (so with a Script id
 * that many higher).
 */
function cacheAfter(t: Test, before: number, source: string): { cache: Buffer; twin: Buffer } {
  const dir = scratch(t);
  const make = `const { Script } = require("node:vm"); const fs = require("node:fs");
for (let i = 0; i < ${before}; i++) new Script("void " + i);
const src = ${JSON.stringify(source)};
fs.writeFileSync(${JSON.stringify(join(dir, "c"))}, new Script(src, { filename: "/usr/lib/kiln/p.cjs" }).createCachedData());
const v8 = require("node:v8");
v8.setFlagsFromString("--no-compilation-cache");
const twin = new Script(src, { filename: "/usr/lib/kiln/p.cjs" });
v8.setFlagsFromString("--compilation-cache");
fs.writeFileSync(${JSON.stringify(join(dir, "t"))}, twin.createCachedData());`;
  const r = spawnSync(hostNode, ["--random-seed=1", "-e", make], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  return { cache: readFileSync(join(dir, "c")), twin: readFileSync(join(dir, "t")) };
}

t.test("the Script id, which depends on what the making process compiled before, is left out of the cache", async (t) => {
  const source = "(function () { const parts = ['id', 'free']; return parts.join('-') + ':' + [1, 2, 3].map((n) => n * 2).join(','); })";
  const early = cacheAfter(t, 0, source);
  const late = cacheAfter(t, 7, source);
  t.notOk(early.cache.equals(late.cache), "as V8 makes them, the two caches differ (the Script id)");
  const a = withoutScriptId(early.cache, early.twin);
  const b = withoutScriptId(late.cache, late.twin);
  t.ok(a.equals(b), "without the id they are the same bytes");
  const use = `const { Script } = require("node:vm");
const s = new Script(${JSON.stringify(source)}, { filename: "/usr/lib/kiln/p.cjs", cachedData: Buffer.from(${JSON.stringify(a.toString("base64"))}, "base64") });
console.log(JSON.stringify({ rejected: s.cachedDataRejected, result: s.runInThisContext()() }));`;
  const r = spawnSync(hostNode, ["-e", use], { encoding: "utf8" });
  t.same(JSON.parse(r.stdout || "{}"), { rejected: false, result: "id-free:2,4,6" }, `V8 takes it and the script runs: ${r.stderr}`);
  t.throws(() => withoutScriptId(early.cache, early.cache), /not laid out as kiln's builder expects.*, 0 differ/, "no id found: refused, not guessed");
  t.throws(() => withoutScriptId(early.cache, late.cache.subarray(1)), /not laid out as kiln's builder expects/);
});

/** Why making the cache of a bundle with this source fails (the message under the cache's "building cache entry"). */
function whyNoCache(t: Test, source: string): string | undefined {
  const dir = scratch(t);
  const src = join(dir, "prog.cjs");
  writeFileSync(src, source);
  try {
    codeCached(join(dir, "cache"), src, "prog.cjs", join(dir, "node_modules"), "/usr/lib/kiln");
  } catch (e) {
    return ((e as Error).cause as Error | undefined)?.message;
  }
  return undefined;
}

t.test("a bundle that does not compile fails the build, saying why", async (t) => {
  t.match(whyNoCache(t, "this is not (javascript\n"), /^making the V8 code cache of .*prog\.cjs .*: SyntaxError: /);
});

t.test("the cache holds every function compiled, not only what the top level compiles", async (t) => {
  const dir = scratch(t);
  const src = join(dir, "prog.cjs");
  // Functions nothing calls while the module loads: V8 compiles them lazily, so a lazy cache would leave them out.
  const bodies = Array.from({ length: 40 }, (_, i) => `function f${i}(x) { const parts = []; for (let j = 0; j < x; j++) parts.push(String(j * ${i + 1}) + "-" + j); return parts.join(","); }`);
  writeFileSync(src, `${bodies.join("\n")}\nmodule.exports = { ${bodies.map((_, i) => `f${i}`).join(", ")} };\n`);
  const p = codeCached(join(dir, "cache"), src, "prog.cjs", join(dir, "node_modules"), "/usr/lib/kiln");
  const lazy = join(dir, "lazy.v8cache");
  const make = `const { Script } = require("node:vm"); const fs = require("node:fs");
fs.writeFileSync(${JSON.stringify(lazy)}, new Script("(function (exports, require, module, __filename, __dirname) {" + fs.readFileSync(${JSON.stringify(p.bundle)}, "utf8") + "\\n})", { filename: "/usr/lib/kiln/prog.bundle.cjs" }).createCachedData());`;
  const r = spawnSync(hostNode, ["--random-seed=1", "-e", make], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  const [eager, top] = [readFileSync(p.cache).length, readFileSync(lazy).length];
  t.ok(eager > 2 * top, `the builder's cache (${eager} bytes) holds the 40 functions' bytecode, a lazy one (${top} bytes) only the top level`);
});

t.test("kiln's image programs: reproducible caches, and V8 takes apid's", { timeout: 120_000 }, async (t) => {
  const dir = scratch(t);
  const image = entries.filter((e) => e.image && e.format === "cjs");
  t.ok(image.length >= 3, "machined, apid and the config worker");
  await bundle({ root: repoRoot(), outDir: join(dir, "dist"), only: image, requireAll: true });
  const nm = join(repoRoot(), "node_modules");
  for (const e of image) {
    // Making the cache compiles without running: machined does not boot this host.
    const p = codeCached(join(dir, "a"), join(dir, "dist", e.out), e.out, nm, "/usr/lib/kiln");
    const again = codeCached(join(dir, "b"), join(dir, "dist", e.out), e.out, nm, "/usr/lib/kiln");
    t.ok(readFileSync(again.cache).equals(readFileSync(p.cache)), `${e.out}: its cache is the same made again`);
    if (e.out !== "apid.cjs") continue;
    // apid with a bad option prints its usage and exits 2: it ran, compiled from its cache.
    const probe = join(dir, "probe.cjs");
    writeFileSync(probe, 'process.on("exit", () => process.stderr.write("\\nstate=" + process[Symbol.for("kiln.codeCache")] + "\\n"));\n');
    // The environment variable an earlier loader took for making a cache does nothing: only the builder's --import does.
    const r = spawnSync(hostNode, ["-r", probe, p.loader, "--bogus"], { encoding: "utf8", env: { ...process.env, NODE_PATH: nm, KILN_CODE_CACHE_OUT: join(dir, "env.v8cache") } });
    t.match(r.stderr, /state=accepted/, `${e.out}: V8 takes the cache`);
    t.equal(r.status, 2, "apid ran and refused the bad option");
    t.notOk(existsSync(join(dir, "env.v8cache")), "an environment variable does not make a cache run");
  }
});

t.test("making the cache runs nothing of the program; as root it would run in namespaces of its own", async (t) => {
  t.same(isolated(["node", "x.cjs"], 1000), ["node", "x.cjs"], "without root it runs as it is: it can mount nothing anyway");
  t.same(isolated(["node", "x.cjs"], 0), ["/usr/bin/unshare", "--mount", "--uts", "--ipc", "--net", "--propagation", "private", "--", "node", "x.cjs"]);
  const dir = scratch(t);
  const marker = join(dir, "ran");
  const src = join(dir, "prog.cjs");
  // A program whose top level leaves a mark, then exits at once: neither happens while its cache is made.
  writeFileSync(src, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\nprocess.exit(3);\n`);
  const p = codeCached(join(dir, "cache"), src, "prog.cjs", join(dir, "node_modules"), "/usr/lib/kiln");
  t.notOk(existsSync(marker), "the program did not run on this host");
  t.ok(readFileSync(p.cache).length > 0, "and its cache was made");
});
