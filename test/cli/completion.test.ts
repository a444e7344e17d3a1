// `kilnctl completion bash|zsh|fish`: scripts generated from the command tree,
// checked by the shells themselves (bash always; zsh and fish when installed).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import t from "tap";
import { bashScript } from "../../src/cli/completion/bash.js";
import { allCommands, commandSpec } from "../../src/cli/completion/tree.js";
import { createProgram, runCli } from "../../src/cli/program.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

const dir = await mkdtemp(join(tmpdir(), "kilnctl-completion-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));

/** Runs `kilnctl ARGS` in-process. */
async function kilnctl(args: string[]) {
  const deps = createFakeDeps();
  const code = await runCli(args, deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** The script for `shell`, saved to a file. */
async function script(shell: string): Promise<string> {
  const r = await kilnctl(["completion", shell]);
  if (r.code !== 0) throw new Error(r.err);
  const file = join(dir, `kilnctl.${shell}`);
  await writeFile(file, r.out);
  return file;
}

/** True when `shell` can be run here. */
function installed(shell: string): boolean {
  return spawnSync(shell, ["-c", "exit 0"]).status === 0;
}

/** What bash's completion offers after loading the script, for the command line `words` (the last being typed). */
function complete(file: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  const program = `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _kilnctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", program], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

const topLevel = ["version", "service", "services", "logs", "events", "reboot", "shutdown", "reset", "apply-config", "get", "validate", "cluster", "edit", "patch", "completion"];

t.test("the bash script passes bash -n and lists the known commands", async (t) => {
  const file = await script("bash");
  const check = spawnSync("bash", ["-n", file], { encoding: "utf8" });
  t.equal(check.status, 0, check.stderr);
  const subs = complete(file, ["kilnctl", ""]);
  for (const name of topLevel) t.ok(subs.includes(name), name);
});

t.test("bash completes commands, subcommands, aliases, flags and enum values", async (t) => {
  const file = await script("bash");
  t.same(complete(file, ["kilnctl", "ser"]), ["service", "services"]);
  t.same(complete(file, ["kilnctl", "get", ""]), ["config", "machineconfig", "links", "addresses", "routes", "sequences", "help"]);
  t.same(complete(file, ["kilnctl", "edit", "machineconfig", "--d"]), ["--dry-run"]);
  t.same(complete(file, ["kilnctl", "edit", "config", "--mode", ""]), ["auto", "no-reboot", "reboot", "staged", "try"]);
  t.same(complete(file, ["kilnctl", "patch", "config", "--mode", "no"]), ["no-reboot"]);
  t.same(complete(file, ["kilnctl", "reboot", "--mode", ""]), ["default", "powercycle"]);
  t.same(complete(file, ["kilnctl", "-o", ""]), ["table", "json", "yaml"]);
  t.same(complete(file, ["kilnctl", "-o", "json", "cluster", "sh"]), ["show"], "a flag's value is not taken for a command");
  t.same(complete(file, ["kilnctl", "completion", ""]), ["bash", "zsh", "fish"]);
  t.same(complete(file, ["kilnctl", "apply-config", "-f", ""]), [], "nothing, so bash falls back to file names");
});

t.test("every visible command of the program is in each script, so completion follows the program", async (t) => {
  const names = allCommands(commandSpec(createProgram(createFakeDeps()))).flatMap((c) => c.names.slice(c.path.length ? 0 : 1));
  for (const shell of ["bash", "zsh", "fish"]) {
    const text = (await kilnctl(["completion", shell])).out;
    const missing = names.filter((n) => !text.includes(`'${n}'`) && !text.includes(` ${n} `) && !text.includes(` ${n}'`));
    t.same(missing, [], shell);
  }
});

t.test("a command added to a program shows up in its script", async (t) => {
  const program = new Command("kilnctl").addCommand(new Command("frobnicate").alias("fr").option("--level <n>", "how much"));
  const text = bashScript(commandSpec(program));
  t.match(text, "'|frobnicate'|'|fr') echo 'frobnicate' ;;");
  t.match(text, "'frobnicate|--level') return 0 ;;");
});

t.test("the zsh script defines its function and registers it with compdef", async (t) => {
  const file = await script("zsh");
  const text = (await kilnctl(["completion", "zsh"])).out;
  t.match(text, /^#compdef kilnctl\n/);
  t.match(text, "compdef _kilnctl kilnctl");
  t.match(text, "'edit config|--mode') echo 'auto no-reboot reboot staged try' ;;");
  t.test("and passes zsh -n", { skip: !installed("zsh") && process.env.CI !== "true" && "zsh is not installed (on CI this fails)" }, async (t) => {
    const check = spawnSync("zsh", ["-n", file], { encoding: "utf8" });
    t.equal(check.status, 0, check.stderr);
  });
});

t.test("the fish script completes subcommands and flag values by command path", async (t) => {
  const file = await script("fish");
  const text = (await kilnctl(["completion", "fish"])).out;
  t.match(text, "complete -c kilnctl -n '__kilnctl_at \\'\\'' -a 'service' -d 'list services, or show, start, stop or restart one'");
  t.match(text, "complete -c kilnctl -n '__kilnctl_at \\'edit config\\'' -l mode -x -a 'auto no-reboot reboot staged try' -d 'how to apply it'");
  t.match(text, "complete -c kilnctl -n '__kilnctl_at \\'completion\\'' -a 'bash zsh fish'");
  t.test("and passes fish --no-execute", { skip: !installed("fish") && process.env.CI !== "true" && "fish is not installed (on CI this fails)" }, async (t) => {
    const check = spawnSync("fish", ["--no-execute", file], { encoding: "utf8" });
    t.equal(check.status, 0, check.stderr);
  });
});

t.test("completion --help explains how to install each script", async (t) => {
  const r = await kilnctl(["completion", "--help"]);
  t.equal(r.code, 0);
  t.match(r.out, "source <(kilnctl completion bash)");
  t.match(r.out, /kilnctl completion zsh > "\$\{fpath\[1\]\}\/_kilnctl"/);
  t.match(r.out, "kilnctl completion fish > ~/.config/fish/completions/kilnctl.fish");
});

t.test("an unknown shell is a usage error", async (t) => {
  const r = await kilnctl(["completion", "tcsh"]);
  t.equal(r.code, 2);
  t.equal(r.err, "kilnctl: usage: command-argument value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.\n");
});
