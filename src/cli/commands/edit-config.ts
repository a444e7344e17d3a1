// `kilnctl edit config [--mode M] [--dry-run]` (also `edit machineconfig`):
// opens the machine's config in $VISUAL or $EDITOR, checks the result offline
// and applies it. An attempt that is not applied is kept, and the next
// `edit config` re-opens it with the problems as leading comments, as
// `kubectl edit` does.
import { Command } from "commander";
import { ApiError } from "../../grpc/errors.js";
import {
  applyChange,
  type ChangeOptions,
  type CurrentConfig,
  changeOptions,
  configErrors,
  fetchConfig,
  invalidConfig,
} from "../config-change.js";
import type { CliDeps } from "../deps.js";
import { configHash, type Draft, draftPath, isEmptyEdit, readDraft, removeDraft, writeDraft } from "../edit-draft.js";
import { editorCommand, runEditor } from "../editor.js";
import { describeError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { type MachineSession, withMachine } from "../session.js";
import { unifiedDiff } from "../text-diff.js";

const what = "editing machine config";
const staleNote = "Warning: the machine config has changed since this edit began; applying it replaces those changes.";

/** An edit under way: the session, the machine's config, and the draft and its file. */
interface Edit {
  m: MachineSession;
  current: CurrentConfig;
  path: string;
  draft: Draft;
}

/** `edit`: a resource of the machine in an editor; only the machine config so far. */
export function createEditCommand(deps: CliDeps): Command {
  const edit = new Command("edit").description("edit a resource of the machine in $VISUAL or $EDITOR");
  const config = new Command("config").alias("machineconfig").description("edit the machine config, check it and apply it");
  for (const option of changeOptions()) config.addOption(option);
  addGlobalOptions(config, { connect: true }).action((o: ChangeOptions, c: Command) => {
    const editor = editorCommand(deps.io.env);
    return withMachine(c, deps, what, (m) => editConfig(m, editor, o));
  });
  return edit.addCommand(config);
}

/** Opens the draft in the editor, then cancels, keeps or applies what comes back. */
async function editConfig(m: MachineSession, editor: string[], o: ChangeOptions): Promise<void> {
  const edit = await openDraft(m);
  const failed = await runEditor(editor, edit.path, m.deps.io).then(() => undefined, (err: unknown) => err);
  edit.draft.body = (await readDraft(edit.path))?.body ?? "";
  if (isEmptyEdit(edit.draft.body) || unchanged(edit)) return cancel(edit, failed);
  if (failed) return keep(edit, edit.draft.notes, failed);
  const errors = await configErrors(m.deps, edit.draft.body);
  if (errors.length > 0) return keep(edit, ["The last attempt was not applied:", ...indent(errors)], invalidConfig(what, errors));
  await applyChange(m, edit.draft.body, o, diffOf(edit)).catch((err: unknown) => keep(edit, refusal(err), err));
  if (o.dryRun) return keep(edit, ["The last attempt was a dry run: nothing was applied."]);
  await removeDraft(edit.path);
}

/** Writes the draft to edit: the attempt kept from last time (noting a changed config), else the machine's config. */
async function openDraft(m: MachineSession): Promise<Edit> {
  const current = await fetchConfig(m);
  const path = draftPath(m.deps.io.env, [m.endpoint, ...m.nodes].join(" "));
  const kept = await readDraft(path);
  const draft = kept ?? { body: current.yaml, base: configHash(current.yaml), notes: [] };
  if (kept && kept.base !== configHash(current.yaml)) {
    draft.notes = [staleNote, ...kept.notes.filter((n) => n !== staleNote)];
    m.warn(`re-opening the edit kept in ${path}; ${staleNote.replace(/^Warning: /, "")}`);
  }
  await writeDraft(path, draft);
  return { m, current, path, draft };
}

/** True when the edited config is the machine's, but for trailing blank lines. */
function unchanged(edit: Edit): boolean {
  return edit.draft.body.trimEnd() === edit.current.yaml.trimEnd();
}

/** Drops the draft; says the edit was cancelled, or fails with the editor's error. */
async function cancel(edit: Edit, failed: unknown): Promise<void> {
  await removeDraft(edit.path);
  if (failed) throw failed;
  edit.m.deps.io.stderr.write("kilnctl: edit cancelled, no changes made\n");
}

/** Keeps the draft with `notes` on top and says how to re-open it; then fails with `err`, if given. */
async function keep(edit: Edit, notes: string[], err?: unknown): Promise<void> {
  edit.draft.notes = notes;
  await writeDraft(edit.path, edit.draft);
  edit.m.deps.io.stderr.write(`kilnctl: the edit is kept in ${edit.path}; run "kilnctl edit config" to re-open it\n`);
  if (err !== undefined) throw err;
}

/** The machine's reason for refusing the attempt, as header notes. */
function refusal(err: unknown): string[] {
  return ["The machine did not apply the last attempt:", ...indent((err instanceof ApiError ? err.message : describeError(err)).split("\n"))];
}

/** Lines indented under a note. */
function indent(lines: string[]): string[] {
  return lines.map((line) => `  ${line}`);
}

/** The diff from the machine's config to the edited one. */
function diffOf(edit: Edit): string {
  const name = edit.current.node || edit.m.endpoint;
  return unifiedDiff(edit.current.yaml, edit.draft.body, { from: `machine config (${name})`, to: "edited" });
}
