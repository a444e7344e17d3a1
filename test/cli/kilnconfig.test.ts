import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t from "tap";
import { type KilnConfig, parseKilnconfig, stringifyKilnconfig } from "../../src/config/kilnconfig.js";
import { locateKilnconfig, writeKilnconfig } from "../../src/cli/kilnconfig-file.js";
import { runCli } from "../../src/cli/program.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

/** Runs kilnctl in-process; out and err are what this run wrote. */
async function run(args: string[], env: Record<string, string> = {}) {
  const deps = createFakeDeps({ env });
  const code = await runCli(args, deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** A temp dir, removed after the test. */
async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kilnctl-kc-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A kilnconfig with contexts a (current) and b, no certificates. */
function twoContexts(): KilnConfig {
  return {
    context: "a",
    contexts: { a: { endpoints: ["10.0.0.1:50000"], nodes: [] }, b: { endpoints: ["10.0.1.1:50000", "10.0.1.2:50000"], nodes: ["10.0.1.3"] } },
  };
}

/** The kilnconfig at `path`, parsed. */
async function readBack(path: string): Promise<KilnConfig> {
  const parsed = parseKilnconfig(await readFile(path, "utf8"));
  if ("errors" in parsed) throw new Error(parsed.errors.join("; "));
  return parsed.value;
}

t.test("the kilnconfig is --kilnconfig, else $KILNCONFIG, else ~/.kiln/config", async (t) => {
  t.same(locateKilnconfig("k.yaml", { KILNCONFIG: "/env/k", HOME: "/home/u" }), { path: resolve("k.yaml"), explicit: true });
  t.same(locateKilnconfig(undefined, { KILNCONFIG: "/env/k", HOME: "/home/u" }), { path: "/env/k", explicit: true });
  t.same(locateKilnconfig(undefined, { HOME: "/home/u" }), { path: "/home/u/.kiln/config", explicit: false });
});

t.test("kilnctl reads the kilnconfig from the flag over the environment over the default", async (t) => {
  const dir = await tempDir(t);
  const write = (path: string, name: string) => writeKilnconfig(path, { context: name, contexts: { [name]: { endpoints: [], nodes: [] } } }, { overwrite: false });
  await mkdir(join(dir, ".kiln"));
  await write(join(dir, ".kiln", "config"), "from-default");
  await write(join(dir, "env"), "from-env");
  await write(join(dir, "flag"), "from-flag");
  const names = async (args: string[], env: Record<string, string>) => JSON.parse((await run([...args, "config", "contexts", "-o", "json"], env)).out)[0].name;
  t.equal(await names(["--kilnconfig", join(dir, "flag")], { HOME: dir, KILNCONFIG: join(dir, "env") }), "from-flag");
  t.equal(await names([], { HOME: dir, KILNCONFIG: join(dir, "env") }), "from-env");
  t.equal(await names([], { HOME: dir }), "from-default");
});

t.test("config contexts lists every context with the current one marked", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "kc");
  await writeKilnconfig(path, twoContexts(), { overwrite: false });
  const table = await run(["config", "contexts", "--kilnconfig", path]);
  t.equal(table.out, "CURRENT  NAME  ENDPOINTS                      NODES\n*        a     10.0.0.1:50000\n         b     10.0.1.1:50000,10.0.1.2:50000  10.0.1.3\n");
  const json = await run(["config", "contexts", "--kilnconfig", path, "-o", "json"]);
  t.same(JSON.parse(json.out), [
    { name: "a", current: true, endpoints: ["10.0.0.1:50000"], nodes: [] },
    { name: "b", current: false, endpoints: ["10.0.1.1:50000", "10.0.1.2:50000"], nodes: ["10.0.1.3"] },
  ]);
});

t.test("config use-context makes a context current and keeps the file 0600", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "kc");
  await writeKilnconfig(path, twoContexts(), { overwrite: false });
  const r = await run(["config", "use-context", "b", "-o", "json"], { KILNCONFIG: path });
  t.equal(r.code, 0, r.err);
  t.same(JSON.parse(r.out), { name: "b", current: true, endpoints: ["10.0.1.1:50000", "10.0.1.2:50000"], nodes: ["10.0.1.3"] });
  t.same(await readBack(path), { ...twoContexts(), context: "b" });
  t.equal((await stat(path)).mode & 0o777, 0o600);
});

t.test("config use-context exits 3 for an unknown context and changes nothing", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "kc");
  await writeKilnconfig(path, twoContexts(), { overwrite: false });
  const r = await run(["config", "use-context", "c"], { KILNCONFIG: path });
  t.equal(r.code, 3);
  t.equal(r.err, `kilnctl: context "c": not found in ${path} (contexts: a, b)\n`);
  t.same(await readBack(path), twoContexts());
});

t.test("config endpoint replaces the current context's endpoints, normalised, and clears them with none", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "kc");
  await writeKilnconfig(path, twoContexts(), { overwrite: false });
  const r = await run(["config", "endpoint", "10.0.0.5", "node-6:50001,fd00::7", "--kilnconfig", path]);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, "CURRENT  NAME  ENDPOINTS                                    NODES\n*        a     10.0.0.5:50000,node-6:50001,[fd00::7]:50000\n");
  t.same((await readBack(path)).contexts.a!.endpoints, ["10.0.0.5:50000", "node-6:50001", "[fd00::7]:50000"]);
  await run(["config", "endpoint", "--kilnconfig", path]);
  t.same((await readBack(path)).contexts.a!.endpoints, []);
  const bad = await run(["config", "endpoint", "http://x", "--kilnconfig", path]);
  t.equal(bad.code, 2);
  t.match(bad.err, /^kilnctl: endpoint: expected HOST\[:PORT\]/);
});

t.test("config node edits the context named by --context, leaving the others", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "kc");
  await writeKilnconfig(path, twoContexts(), { overwrite: false });
  const r = await run(["--kilnconfig", path, "--context", "b", "config", "node", "10.0.1.4,10.0.1.5", "10.0.1.6", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.same(JSON.parse(r.out).nodes, ["10.0.1.4", "10.0.1.5", "10.0.1.6"]);
  const after = await readBack(path);
  t.same(after, { ...twoContexts(), contexts: { ...twoContexts().contexts, b: { ...twoContexts().contexts.b!, nodes: ["10.0.1.4", "10.0.1.5", "10.0.1.6"] } } });
});

t.test("config commands fail clearly without a kilnconfig", async (t) => {
  const dir = await tempDir(t);
  const r = await run(["config", "contexts"], { HOME: dir });
  t.equal(r.code, 1);
  t.equal(r.err, `kilnctl: reading kilnconfig ${join(dir, ".kiln", "config")}: no such file (kilnctl gen config or gen kilnconfig writes one)\n`);
});

t.test("a kilnconfig with problems is reported with every path", async (t) => {
  const text = "context: x\ncontexts:\n  a:\n    endpoint: [1]\n    ca: nope\n";
  t.same(parseKilnconfig(text), {
    errors: ["contexts.a.ca: expected a base64-encoded PEM certificate (-----BEGIN CERTIFICATE-----), got \"nope\"", 'contexts.a.endpoint: unknown key; did you mean "endpoints"?'],
  });
  t.same(parseKilnconfig("context: x\ncontexts: {}\n"), { errors: ['context: "x" is not one of the contexts (none)'] });
  t.same(parseKilnconfig(stringifyKilnconfig(twoContexts())), { value: twoContexts() });
});
