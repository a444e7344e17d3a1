// `kilnctl completion bash|zsh|fish`: prints a completion script generated
// from kilnctl's own command tree; `--help` says how to install each.
import { Argument, Command } from "commander";
import { bashScript } from "../completion/bash.js";
import { fishScript } from "../completion/fish.js";
import { type CommandSpec, commandSpec } from "../completion/tree.js";
import { zshScript } from "../completion/zsh.js";
import type { CliDeps } from "../deps.js";

const scripts: Record<string, (spec: CommandSpec) => string> = { bash: bashScript, zsh: zshScript, fish: fishScript };

const install = `
The script is generated from this kilnctl's commands; loading it from your
shell's startup file (as below for bash) keeps it in step after upgrades.

  bash  In ~/.bashrc:
          source <(kilnctl completion bash)
        or, with the bash-completion package installed, once:
          kilnctl completion bash > ~/.local/share/bash-completion/completions/kilnctl

  zsh   With compinit enabled (autoload -Uz compinit && compinit in ~/.zshrc), once:
          kilnctl completion zsh > "\${fpath[1]}/_kilnctl"
        then start a new shell; or in ~/.zshrc, after compinit:
          source <(kilnctl completion zsh)

  fish  Once:
          kilnctl completion fish > ~/.config/fish/completions/kilnctl.fish
`;

/** `completion SHELL`. */
export function createCompletionCommand(deps: CliDeps): Command {
  return new Command("completion")
    .description("print a shell completion script for bash, zsh or fish")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(Object.keys(scripts)))
    .addHelpText("after", install)
    .action((shell: string, _o, c: Command) => {
      deps.io.stdout.write(scripts[shell]!(commandSpec(rootOf(c))));
    });
}

/** The program a command belongs to. */
function rootOf(cmd: Command): Command {
  return cmd.parent ? rootOf(cmd.parent) : cmd;
}
