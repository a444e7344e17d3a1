// `kilnctl patch config` in-process against the real machine API server with
// a fake Machine behind it, and the patch parsing and applying it relies on.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { applyPatches, parsePatch } from "../../src/cli/patch.js";
import { runCli } from "../../src/cli/program.js";
import { parseConfig } from "../../src/config/parse.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

const config = `apiVersion: kiln/v1alpha1
kind: MachineConfig
machine:
  type: worker
  hostname: fake # the node's name
  sysctls:
    vm.swappiness: "10"
  time:
    servers: [time.cloudflare.com]
`;

const dir = await mkdtemp(join(tmpdir(), "kilnctl-patch-"));
const socket = join(dir, "m.sock");
const machine = createFakeMachine();
const api = await startMachineApi(machine, socket, { node: () => "node-a", closeGraceMs: 100 });
t.teardown(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

t.beforeEach(() => {
  machine.config = config;
  machine.applied.length = 0;
});

/** Runs `kilnctl -e … patch config ARGS` with the real config parser. */
async function patch(args: string[]) {
  const deps = { ...createFakeDeps(), parseConfig: async () => parseConfig };
  const code = await runCli(["-e", `unix://${socket}`, "patch", "config", ...args], deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** The YAML the machine was last sent. */
function appliedYaml(): string | undefined {
  return machine.applied.at(-1)?.yaml;
}

t.test("a JSON Patch is applied to the current config and sent with the mode", async (t) => {
  const r = await patch(["-p", '[{"op":"replace","path":"/machine/hostname","value":"b"}]', "--mode", "staged"]);
  t.equal(r.code, 0);
  t.equal(appliedYaml(), config.replace("hostname: fake", "hostname: b"), "comments and flow lists are kept");
  t.match(machine.applied, [{ mode: "staged", dryRun: false }]);
  t.match(r.out, /^NODE\s+MODE\s+CHANGES\s+NEEDS-REBOOT\s+DETAILS\nnode-a\s+staged\s+machine.hostname\s+-\s+applied live: hostname\n$/);
});

t.test("a merge patch adds and removes keys; -o json prints apply-config's record with the diff", async (t) => {
  const r = await patch(["--patch", '{"machine":{"sysctls":null,"env":{"TZ":"UTC"}}}', "-o", "json"]);
  t.equal(r.code, 0);
  const yaml = config.replace('  sysctls:\n    vm.swappiness: "10"\n', "") + "  env:\n    TZ: UTC\n";
  t.equal(appliedYaml(), yaml);
  const diff = `--- machine config (node-a)
+++ patched
@@ -3,7 +3,7 @@
 machine:
   type: worker
   hostname: fake # the node's name
-  sysctls:
-    vm.swappiness: "10"
   time:
     servers: [time.cloudflare.com]
+  env:
+    TZ: UTC
`;
  t.same(JSON.parse(r.out), { node: "node-a", mode: "no-reboot", details: "applied live: hostname", changes: ["machine.hostname"], needsReboot: [], warnings: ["machine.env is empty"], dryRun: false, diff });
});

t.test("patches in YAML, inline and from @FILE, apply in order", async (t) => {
  const file = join(dir, "servers.yaml");
  await writeFile(file, "- op: add\n  path: /machine/time/servers/-\n  value: 10.0.0.1\n");
  const r = await patch(["-p", "machine:\n  hostname: b\n", "-p", `@${file}`]);
  t.equal(r.code, 0);
  t.equal(appliedYaml(), config.replace("hostname: fake", "hostname: b").replace("[time.cloudflare.com]", "[time.cloudflare.com, 10.0.0.1]"));
});

t.test("a failing operation names its patch, index, op and path, and nothing is applied", async (t) => {
  const ops = '[{"op":"test","path":"/machine/type","value":"worker"},{"op":"replace","path":"/machine/hostnme","value":"b"}]';
  const r = await patch(["-p", "{}", "-p", ops]);
  t.equal(r.code, 1);
  t.equal(r.err, "kilnctl: patch 2: operation at index 1 (replace /machine/hostnme): the path does not exist\n");
  t.same(machine.applied, []);
  const test = await patch(["-p", '[{"op":"test","path":"/machine/type","value":"controlplane"}]']);
  t.equal(test.err, "kilnctl: patch 1: operation at index 0 (test /machine/type): test failed: the value differs\n");
});

t.test("a malformed patch is a usage error, found before the machine is called", async (t) => {
  const run = async (p: string) => {
    const deps = createFakeDeps();
    return { code: await runCli(["patch", "config", "-p", p], deps), err: deps.err() };
  };
  t.same(await run('[{"op":"frob","path":"/x"}]'), { code: 2, err: "kilnctl: patch 1: operation at index 0 (frob /x): op must be one of add, remove, replace, move, copy, test\n" });
  t.same(await run('[{"op":"add","path":"/x"}]'), { code: 2, err: "kilnctl: patch 1: operation at index 0 (add /x): value is required for add, replace and test\n" });
  t.same(await run('"hostname"'), { code: 2, err: "kilnctl: patch 1: expected a JSON Patch (a list of operations) or a merge patch (a map), got a string\n" });
  t.same(await run("{a: ["), { code: 2, err: "kilnctl: patch 1: YAML syntax error at line 1, column 6: Flow sequence in block collection must be sufficiently indented and end with a ]; YAML syntax error at line 1, column 6: Flow map must end with a }\n" });
  t.same(await run("@/nonexistent/p.yaml"), { code: 1, err: "kilnctl: reading /nonexistent/p.yaml: no such file or directory\n" });
  const none = createFakeDeps();
  t.equal(await runCli(["patch", "config"], none), 2);
  t.equal(none.err(), "kilnctl: usage: required option '-p, --patch <patch>' not specified\n");
});

t.test("a patch that leaves the config invalid prints every error and applies nothing", async (t) => {
  const r = await patch(["-p", '{"machine":{"type":"toaster","colour":"blue"}}']);
  t.equal(r.code, 1);
  t.match(r.err, /^kilnctl: patching machine config: the patched config is invalid: machine\.type: .*toaster.*; machine\.colour: unknown key; .*\n$/);
  t.same(machine.applied, []);
});

t.test("--dry-run prints the diff and what would happen, and changes nothing", async (t) => {
  const r = await patch(["-p", '{"machine":{"hostname":"b"}}', "--dry-run"]);
  t.equal(r.code, 0);
  const diff = `--- machine config (node-a)
+++ patched
@@ -2,7 +2,7 @@
 kind: MachineConfig
 machine:
   type: worker
-  hostname: fake # the node's name
+  hostname: b # the node's name
   sysctls:
     vm.swappiness: "10"
   time:
`;
  t.ok(r.out.startsWith(diff), r.out);
  t.match(r.out.slice(diff.length), /^NODE\s+MODE\s+CHANGES\s+NEEDS-REBOOT\s+DETAILS\nnode-a\s+no-reboot\s+machine.hostname\s+-\s+\(dry run\) dry run: would apply live\n$/);
  t.match(machine.applied, [{ dryRun: true }]);
  t.equal(machine.config, config);
});

t.test("the machine's refusal exits 1 with its reason", async (t) => {
  const r = await patch(["-p", '{"machine":{"hostname":"invalid-name"}}']);
  t.equal(r.code, 1);
  t.equal(r.err, "kilnctl: patching machine config: machine config is invalid: machine.hostname: expected a string, got 1; foo: unknown key\n");
});

t.test("exits 3 in maintenance mode", async (t) => {
  machine.config = undefined;
  const r = await patch(["-p", "{}"]);
  t.equal(r.code, 3);
  t.equal(r.err, "kilnctl: machine config: none applied (the machine is in maintenance mode)\n");
});

t.test("a list is a JSON Patch and a map a merge patch, in JSON or YAML", async (t) => {
  t.match(parsePatch('[{"op":"remove","path":"/a"}]', "1"), { patch: { t: "json", source: "1", ops: [{ op: "remove", path: "/a" }] } });
  t.match(parsePatch("- op: remove\n  path: /a\n", "1"), { patch: { t: "json" } });
  t.match(parsePatch("a:\n  b: null\n", "f.yaml"), { patch: { t: "merge", source: "f.yaml", doc: { a: { b: null } } } });
  t.same(parsePatch("  \n", "1"), { error: "is empty; expected a JSON Patch (a list of operations) or a merge patch (a map)" });
});

t.test("patches apply to a copy, in order, with file modes written with a leading zero kept as strings", async (t) => {
  const doc = { a: { b: 1, list: [1, 2] } };
  const json = parsePatch('[{"op":"move","from":"/a/b","path":"/c"}]', "1");
  const merge = parsePatch("a:\n  list: [3]\n  mode: 0644\n", "2");
  if ("error" in json || "error" in merge) throw new Error("parse failed");
  t.same(applyPatches(doc, [json.patch, merge.patch]), { a: { list: [3], mode: "0644" }, c: 1 });
  t.same(doc, { a: { b: 1, list: [1, 2] } }, "the original is unchanged");
});
