// Running the user's editor on a file: $VISUAL, else $EDITOR, else vi, the
// variable split into words as a shell would (`code --wait`, quoted paths).
import { spawn } from "node:child_process";
import type { CliIo } from "./deps.js";
import { CliError, usageError } from "./errors.js";

type Quote = "'" | '"' | undefined;

/** The editor command as words: $VISUAL, else $EDITOR, else vi. */
export function editorCommand(env: Record<string, string | undefined>): string[] {
  const name = env.VISUAL?.trim() ? "VISUAL" : env.EDITOR?.trim() ? "EDITOR" : undefined;
  if (name === undefined) return ["vi"];
  const split = shellWords(env[name]!);
  if ("error" in split) throw usageError(`$${name}`, `${split.error} in ${JSON.stringify(env[name])}`);
  return split.words;
}

/** `text` split into words as sh splits them: blanks separate, quotes group, a backslash escapes. */
export function shellWords(text: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  let word: string | undefined;
  let quote: Quote;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === undefined && /\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "\\" && escapes(quote, text[i + 1])) {
      word = (word ?? "") + (text[++i] ?? "");
    } else {
      [word, quote] = step(word, quote, c);
    }
  }
  if (quote) return { error: `unterminated ${quote} quote` };
  return { words: word === undefined ? words : [...words, word] };
}

/** True when a backslash escapes `next`: always outside quotes, only before " \ $ ` inside double quotes. */
function escapes(quote: Quote, next: string | undefined): boolean {
  return quote === undefined || (quote === '"' && next !== undefined && '"\\$`'.includes(next));
}

/** One ordinary character: opens or closes a quote, or joins the word. */
function step(word: string | undefined, quote: Quote, c: string): [string, Quote] {
  if (quote === undefined && (c === "'" || c === '"')) return [word ?? "", c];
  if (c === quote) return [word ?? "", undefined];
  return [(word ?? "") + c, quote];
}

/** Runs the editor on `file` with this terminal, ignoring Ctrl-C meanwhile; fails if it cannot run or fails. */
export function runEditor(command: string[], file: string, io: CliIo): Promise<void> {
  const [program, ...args] = command;
  const what = `editor ${JSON.stringify(command.join(" "))}`;
  const ignoreInterrupt = io.onInterrupt(() => undefined);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(program!, [...args, file], { stdio: "inherit", env: io.env });
    child.on("error", (err: NodeJS.ErrnoException) => reject(editorError(what, err)));
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new CliError(what, signal ? `killed by ${signal}` : `exited with code ${code}`));
    });
  }).finally(ignoreInterrupt);
}

/** Why the editor did not start: not found says which variables choose it. */
function editorError(what: string, err: NodeJS.ErrnoException): CliError {
  if (err.code === "ENOENT") return new CliError(what, "not found; set VISUAL or EDITOR to your editor");
  return new CliError(what, err.message, undefined, { cause: err });
}
