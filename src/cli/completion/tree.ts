// kilnctl's commands as completion scripts need them, read from commander's
// own tree (names, aliases, options, choices), so completion cannot go stale.
import type { Command, Option } from "commander";

export interface FlagSpec {
  /** Its spellings: ["-o", "--output"]. */
  names: string[];
  takesValue: boolean;
  /** The values it accepts, when they are a fixed list (-o, --mode). */
  choices: string[];
  description: string;
}

export interface CommandSpec {
  /** Canonical names from the program down: ["get", "config"]; [] for the program. */
  path: string[];
  /** Its name, then its aliases. */
  names: string[];
  description: string;
  flags: FlagSpec[];
  /** The values each positional argument accepts; [] when any value goes. */
  args: string[][];
  subcommands: CommandSpec[];
}

/** The spec of `cmd` and every command under it, as help shows them (hidden ones left out). */
export function commandSpec(cmd: Command, path: string[] = []): CommandSpec {
  const help = cmd.createHelp();
  return {
    path,
    names: [cmd.name(), ...cmd.aliases()],
    description: cmd.description(),
    flags: help.visibleOptions(cmd).map(flagSpec),
    args: cmd.registeredArguments.map((a) => a.argChoices ?? []),
    subcommands: help.visibleCommands(cmd).map((sub) => commandSpec(sub, [...path, sub.name()])),
  };
}

/** One option's spellings, whether it takes a value, and its choices. */
function flagSpec(o: Option): FlagSpec {
  const names = [o.short, o.long].filter((n): n is string => n !== undefined);
  return { names, takesValue: o.required || o.optional, choices: o.argChoices ?? [], description: o.description };
}

/** The command and all those under it, parents first. */
export function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.subcommands.flatMap(allCommands)];
}

/** The path as completion scripts key it: names joined by spaces. */
export function pathKey(spec: CommandSpec): string {
  return spec.path.join(" ");
}
