// The lookup functions the bash and zsh scripts share: `case` statements
// keyed by command path ("get config") that both shells run alike.
import { allCommands, type CommandSpec, pathKey } from "./tree.js";

type Arm = [patterns: string[], body: string];

/** A word quoted for sh: in single quotes, a quote inside written '\''. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** The lookup functions of `spec`'s tree, each named `<prefix>_<what>`. */
export function lookupFunctions(prefix: string, spec: CommandSpec): string {
  const commands = allCommands(spec);
  return [
    caseFunction(`${prefix}_next`, "path, word: the path of the subcommand the word names", '"$1|$2"', commands.slice(1).map(nextArm)),
    caseFunction(`${prefix}_takes_value`, "path, word: true when the word is a flag taking a value", '"$1|$2"', commands.map(valueFlagsArm), "return 1"),
    caseFunction(`${prefix}_subs`, "path: the names of its subcommands", '"$1"', commands.map((c) => [[pathKey(c)], echo(subNames(c))])),
    caseFunction(`${prefix}_flags`, "path: its flags", '"$1"', commands.map((c) => [[pathKey(c)], echo(c.flags.flatMap((f) => f.names))])),
    caseFunction(`${prefix}_values`, "path, flag: the values the flag accepts", '"$1|$2"', commands.flatMap(choiceArms)),
    caseFunction(`${prefix}_arg`, "path, position: the values that argument accepts", '"$1|$2"', commands.flatMap(argArms)),
  ].join("\n\n");
}

/** `name() { case … esac; fallback }`, one arm per entry with a body. */
function caseFunction(name: string, comment: string, subject: string, arms: Arm[], fallback?: string): string {
  const lines = arms.filter(([, body]) => body !== "").map(([patterns, body]) => `    ${patterns.map(shQuote).join("|")}) ${body} ;;`);
  return [`# ${comment}`, `${name}() {`, `  case ${subject} in`, ...lines, "  esac", ...(fallback ? [`  ${fallback}`] : []), "}"].join("\n");
}

/** `echo 'a b c'`, or nothing for no words. */
function echo(words: string[]): string {
  return words.length === 0 ? "" : `echo ${shQuote(words.join(" "))}`;
}

/** Every name and alias of the subcommands. */
export function subNames(c: CommandSpec): string[] {
  return c.subcommands.flatMap((s) => s.names);
}

/** "parent|name" and "parent|alias" lead to the command's path. */
function nextArm(c: CommandSpec): Arm {
  const parent = c.path.slice(0, -1).join(" ");
  return [c.names.map((n) => `${parent}|${n}`), echo([pathKey(c)])];
}

/** "path|flag" for every flag of the command that takes a value. */
function valueFlagsArm(c: CommandSpec): Arm {
  const patterns = c.flags.filter((f) => f.takesValue).flatMap((f) => f.names.map((n) => `${pathKey(c)}|${n}`));
  return [patterns, patterns.length ? "return 0" : ""];
}

/** "path|flag" to the flag's choices, for each flag that has some. */
function choiceArms(c: CommandSpec): Arm[] {
  return c.flags.filter((f) => f.choices.length).map((f) => [f.names.map((n) => `${pathKey(c)}|${n}`), echo(f.choices)]);
}

/** "path|position" to the argument's choices, for each argument that has some. */
function argArms(c: CommandSpec): Arm[] {
  return c.args.map((choices, i): Arm => [[`${pathKey(c)}|${i}`], echo(choices)]);
}
