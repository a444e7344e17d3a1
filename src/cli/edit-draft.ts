// The file `kilnctl edit config` opens in the editor: one per endpoint, in a
// directory only the user can enter (configs hold keys), mode 0600. It stays
// when an attempt fails, so the next `edit config` re-opens it with the
// problems as leading comments, as `kubectl edit` does.
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "./errors.js";

/** An attempt: the config as edited, the hash of the machine config it began from, and notes for the header. */
export interface Draft {
  body: string;
  base: string;
  notes: string[];
}

const firstLine = "# Please edit the machine config below, then save and quit to apply it.";

/** The draft's path for a machine (its endpoint and node): $TMPDIR/kilnctl-edit-UID/config-HASH.yaml. */
export function draftPath(env: Record<string, string | undefined>, machine: string): string {
  const dir = join(env.TMPDIR || tmpdir(), `kilnctl-edit-${process.getuid?.() ?? "user"}`);
  return join(dir, `config-${configHash(machine)}.yaml`);
}

/** A short SHA-256 of `text`, naming a config or an endpoint. */
export function configHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** The attempt kept at `path`, if there is one. */
export async function readDraft(path: string): Promise<Draft | undefined> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new CliError(`reading ${path}`, err.message, undefined, { cause: err });
  });
  return text === undefined ? undefined : { body: stripHeader(text), ...parseHeader(headerOf(text)) };
}

/** The base hash and the notes (the lines after a lone "#") of a header writeDraft wrote. */
function parseHeader(header: string): Omit<Draft, "body"> {
  const lines = header.trimEnd().split("\n");
  const base = /sha256:([0-9a-f]{12})/.exec(lines[2] ?? "")?.[1] ?? "";
  const start = lines.indexOf("#");
  return { base, notes: start < 0 ? [] : lines.slice(start + 1).map((line) => line.replace(/^# ?/, "")) };
}

/** Writes the draft under a header of instructions and its notes, readable only by the user. */
export async function writeDraft(path: string, draft: Draft): Promise<void> {
  await privateDir(join(path, ".."));
  const notes = draft.notes.length ? ["#", ...draft.notes.map((n) => `# ${n}`)] : [];
  const header = [firstLine, "# Save an empty file to cancel. The lines up to the first blank line are removed.",
    `# Begun from the machine config sha256:${draft.base}.`, ...notes];
  await writeFile(path, `${header.join("\n")}\n\n${draft.body}`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Removes the draft. */
export function removeDraft(path: string): Promise<void> {
  return rm(path, { force: true });
}

/** Makes `dir` (0700) or checks that it is a directory of this user that no one else can enter. */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  const why = !st.isDirectory() ? "not a directory" : uid !== undefined && st.uid !== uid ? "owned by another user" : st.mode & 0o077 ? "open to other users" : "";
  if (why) throw new CliError(`refusing to keep the edit in ${dir}`, `it is ${why}`);
}

/** The draft's text without the header: everything up to the first blank line, when it starts with ours. */
export function stripHeader(text: string): string {
  if (!text.startsWith(firstLine)) return text;
  const end = text.search(/\n[ \t]*\n/);
  return end < 0 ? "" : text.slice(text.indexOf("\n", end + 1) + 1);
}

/** The header of the draft's text, if it has ours. */
function headerOf(text: string): string {
  return text.slice(0, text.length - stripHeader(text).length);
}

/** True when only blank lines and comments are left: the edit is cancelled. */
export function isEmptyEdit(body: string): boolean {
  return body.split("\n").every((line) => /^\s*(#.*)?$/.test(line));
}
