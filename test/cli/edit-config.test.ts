// `kilnctl edit config` in-process against the real machine API server with a
// fake Machine behind it, and a tiny node program as the editor.
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { configHash, draftPath } from "../../src/cli/edit-draft.js";
import { editorCommand, shellWords } from "../../src/cli/editor.js";
import { runCli } from "../../src/cli/program.js";
import { parseConfig } from "../../src/config/parse.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

const fakeEditor = new URL("./fixtures/fake-editor.mjs", import.meta.url).pathname;
const config = "apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n  hostname: fake # the node's name\n";

const dir = await mkdtemp(join(tmpdir(), "kilnctl-edit-"));
const socket = join(dir, "m.sock");
const endpoint = `unix://${socket}`;
const machine = createFakeMachine();
const api = await startMachineApi(machine, socket, { node: () => "node-a", closeGraceMs: 100 });
t.teardown(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});
const draft = draftPath({ TMPDIR: dir }, endpoint);
const seenFile = join(dir, "seen.json");

t.beforeEach(async () => {
  machine.config = config;
  machine.applied.length = 0;
  await rm(draft, { force: true });
});

/** Runs `kilnctl -e … edit config ARGS` with the fake editor doing `editor`; the real config parser. */
async function edit(editor: string, args: string[] = []) {
  const env = { TMPDIR: dir, EDITOR: `${process.execPath} ${fakeEditor} ${editor}`, FAKE_EDITOR_SEEN: seenFile };
  const deps = { ...createFakeDeps({ env }), parseConfig: async () => parseConfig };
  const code = await runCli(["-e", endpoint, "edit", "config", ...args], deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** What the editor was shown last, and the file's mode then. */
async function seen(): Promise<{ text: string; mode: number }> {
  return JSON.parse(await readFile(seenFile, "utf8"));
}

/** True when the draft file exists. */
function kept(): Promise<boolean> {
  return stat(draft).then(() => true, () => false);
}

const header = (notes: string[] = []) =>
  [
    "# Please edit the machine config below, then save and quit to apply it.",
    "# Save an empty file to cancel. The lines up to the first blank line are removed.",
    `# Begun from the machine config sha256:${configHash(config)}.`,
    ...(notes.length ? ["#", ...notes.map((n) => `# ${n}`)] : []),
  ].join("\n") + "\n\n";

const machineKeys = "type, hostname, network, sysctls, kernel, files, env, time, kubelet, install, ca, token, certSANs, api, services, registries";
const keptLine = `kilnctl: the edit is kept in ${draft}; run "kilnctl edit config" to re-open it\n`;
const invalidHostname =
  "machine.hostname: expected a lowercase RFC 1123 hostname such as node-1 or node-1.example.com (labels of 1-63 characters a-z, 0-9 and '-', 253 in all), got \"Bad_Name\"";

t.test("an unchanged edit is cancelled: exit 0, nothing applied, no draft left", async (t) => {
  const r = await edit("keep");
  t.equal(r.code, 0);
  t.equal(r.err, "kilnctl: edit cancelled, no changes made\n");
  t.equal(r.out, "");
  t.same(machine.applied, []);
  t.equal((await seen()).text, header() + config, "the editor is shown the config under the header");
  t.equal((await seen()).mode, 0o600, "the file holding the config is readable only by the user");
  t.equal((await stat(join(draft, ".."))).mode & 0o777, 0o700);
  t.equal(await kept(), false);
});

t.test("an empty file cancels the edit", async (t) => {
  const r = await edit("write '# nothing\n'");
  t.equal(r.code, 0);
  t.equal(r.err, "kilnctl: edit cancelled, no changes made\n");
  t.same(machine.applied, []);
});

t.test("an invalid edit prints every error, applies nothing, and is kept for the next edit with the errors on top", async (t) => {
  const r = await edit("replace 'hostname: fake' 'hostname: Bad_Name\n  colour: blue'");
  t.equal(r.code, 1);
  const errors = [invalidHostname, `machine.colour: unknown key; expected one of ${machineKeys}`];
  t.equal(r.err, `${keptLine}kilnctl: editing machine config: machine config is invalid: ${errors.join("; ")}\n`);
  t.same(machine.applied, []);
  t.equal(machine.config, config);
  const edited = config.replace("hostname: fake", "hostname: Bad_Name\n  colour: blue");
  t.equal(await readFile(draft, "utf8"), header(["The last attempt was not applied:", ...errors.map((e) => `  ${e}`)]) + edited);
  t.equal((await stat(draft)).mode & 0o777, 0o600);

  const before = await readFile(draft, "utf8");
  const again = await edit("replace 'hostname: Bad_Name' 'hostname: good-name'");
  t.equal((await seen()).text, before, "the next edit re-opens the previous attempt with its errors");
  t.equal(again.code, 1, "still invalid: the unknown key");
  t.equal(again.err, `${keptLine}kilnctl: editing machine config: machine config is invalid: ${errors[1]}\n`);
});

t.test("a valid edit is applied with the mode, printed as apply-config prints it, and the draft removed", async (t) => {
  const r = await edit("replace 'hostname: fake' 'hostname: b'", ["--mode", "staged"]);
  t.equal(r.code, 0);
  const edited = config.replace("hostname: fake", "hostname: b");
  t.match(machine.applied, [{ yaml: edited, mode: "staged", dryRun: false }]);
  t.match(r.out, /^NODE\s+MODE\s+CHANGES\s+NEEDS-REBOOT\s+DETAILS\nnode-a\s+staged\s+machine.hostname\s+-\s+applied live: hostname\n$/);
  t.equal(r.err, "kilnctl: warning: machine.env is empty\n");
  t.equal(await kept(), false);
});

t.test("-o json prints apply-config's record with the diff", async (t) => {
  const r = await edit("replace 'hostname: fake' 'hostname: b'", ["-o", "json"]);
  const diff = `--- machine config (node-a)\n+++ edited\n@@ -2,4 +2,4 @@\n kind: MachineConfig\n machine:\n   type: worker\n-  hostname: fake # the node's name\n+  hostname: b # the node's name\n`;
  t.same(JSON.parse(r.out), { node: "node-a", mode: "no-reboot", details: "applied live: hostname", changes: ["machine.hostname"], needsReboot: [], warnings: ["machine.env is empty"], dryRun: false, diff });
});

t.test("--dry-run prints the diff and what would happen, applies nothing, and keeps the edit", async (t) => {
  const r = await edit("replace 'hostname: fake' 'hostname: b'", ["--dry-run"]);
  t.equal(r.code, 0);
  t.match(r.out, /^--- machine config \(node-a\)\n\+\+\+ edited\n@@ -2,4 \+2,4 @@\n[\s\S]*- {2}hostname: fake # the node's name\n\+ {2}hostname: b # the node's name\nNODE\s+MODE/);
  t.match(r.out, /\(dry run\) dry run: would apply live\n$/);
  t.match(machine.applied, [{ dryRun: true }]);
  t.equal(machine.config, config);
  t.equal(r.err, `kilnctl: warning: machine.env is empty\n${keptLine}`);
  t.match(await readFile(draft, "utf8"), /# The last attempt was a dry run: nothing was applied\.\n\n[\s\S]*hostname: b/);
});

t.test("an edit the machine refuses is kept with the machine's reason on top", async (t) => {
  const r = await edit("replace 'hostname: fake' 'hostname: invalid-name'");
  t.equal(r.code, 1);
  t.equal(r.err, `${keptLine}kilnctl: editing machine config: machine config is invalid: machine.hostname: expected a string, got 1; foo: unknown key\n`);
  t.same(machine.applied, []);
  const notes = ["The machine did not apply the last attempt:", "  machine config is invalid:", "  machine.hostname: expected a string, got 1", "  foo: unknown key"];
  t.equal(await readFile(draft, "utf8"), header(notes) + config.replace("hostname: fake", "hostname: invalid-name"));
});

t.test("a kept edit re-opened after the machine's config changed warns that applying it replaces those changes", async (t) => {
  await edit("replace 'hostname: fake' 'hostname: Bad_Name'");
  machine.config = config.replace("worker", "controlplane");
  const r = await edit("keep");
  t.match((await seen()).text, /^# Please edit[\s\S]*\n#\n# Warning: the machine config has changed since this edit began; applying it replaces those changes\.\n# The last attempt was not applied:\n/);
  t.match(r.err, /^kilnctl: warning: re-opening the edit kept in \S+; the machine config has changed since this edit began; applying it replaces those changes\.\n/);
});

t.test("an editor that fails applies nothing and keeps only a changed file", async (t) => {
  const r = await edit("fail");
  t.equal(r.code, 1);
  t.match(r.err, /^kilnctl: editor ".*fake-editor\.mjs fail": exited with code 3\n$/);
  t.equal(await kept(), false, "nothing was changed, so nothing is kept");
  await edit("replace 'hostname: fake' 'hostname: Bad_Name'");
  const again = await edit("fail");
  t.equal(again.err.split("\n")[0], keptLine.trimEnd());
  t.equal(await kept(), true);
  t.same(machine.applied, []);
});

t.test("exits 3 in maintenance mode, before opening the editor", async (t) => {
  machine.config = undefined;
  await rm(seenFile, { force: true });
  const r = await edit("keep");
  t.equal(r.code, 3);
  t.equal(r.err, "kilnctl: machine config: none applied (the machine is in maintenance mode)\n");
  t.same(await readdir(dir).then((names) => names.includes("seen.json")), false);
});

t.test("a malformed $EDITOR is a usage error naming the variable", async (t) => {
  const deps = createFakeDeps({ env: { EDITOR: "vim 'unclosed" } });
  t.equal(await runCli(["-e", endpoint, "edit", "config"], deps), 2);
  t.equal(deps.err(), `kilnctl: $EDITOR: unterminated ' quote in "vim 'unclosed"\n`);
});

t.test("$VISUAL wins over $EDITOR, and vi is the default", async (t) => {
  t.same(editorCommand({ VISUAL: "code --wait", EDITOR: "nano" }), ["code", "--wait"]);
  t.same(editorCommand({ EDITOR: "nano" }), ["nano"]);
  t.same(editorCommand({ VISUAL: " ", EDITOR: "" }), ["vi"]);
});

t.test("the editor variable is split into words as a shell splits them", async (t) => {
  t.same(shellWords("code --wait"), { words: ["code", "--wait"] });
  t.same(shellWords(`"/opt/My Editor/ed" -w`), { words: ["/opt/My Editor/ed", "-w"] });
  t.same(shellWords(`vim -c 'set ft=yaml'  `), { words: ["vim", "-c", "set ft=yaml"] });
  t.same(shellWords(`a\\ b "q\\"x" 'it''s' ""`), { words: ["a b", 'q"x', "its", ""] });
  t.same(shellWords(`"a\\nb"`), { words: ["a\\nb"] });
  t.same(shellWords(`emacs "-nw`), { error: 'unterminated " quote' });
});
