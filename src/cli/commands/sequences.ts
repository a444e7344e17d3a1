// `kilnctl get sequences [--all]`: the lifecycle's timeline. By default the
// boot, one row per phase and task with its start offset and duration; with
// --all every run the machine remembers. -o json|yaml prints the machine's
// answer as protobuf JSON (the Sequences message, runs filtered the same way).
import { toJson } from "@bufbuild/protobuf";
import { Command } from "commander";
import { stringify } from "yaml";
import { type Sequences, SequencesSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import { type Column, formatTable } from "../table.js";

/** One row of the table: a run, a phase of it, or a task of a phase. */
interface TimelineRow {
  node: string;
  sequence: string;
  phase: string;
  task: string;
  startMs: number;
  durationMs: number;
  result: string;
  error: string;
}

const columns: Column<TimelineRow>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SEQUENCE", value: (r) => r.sequence },
  { header: "PHASE", value: (r) => r.phase || "-" },
  { header: "TASK", value: (r) => r.task || "-" },
  { header: "START", value: (r) => seconds(r.startMs) },
  { header: "DURATION", value: (r) => seconds(r.durationMs) },
  { header: "RESULT", value: (r) => (r.error ? `${r.result}: ${r.error}` : r.result) },
];

export function createSequencesCommand(deps: CliDeps): Command {
  const cmd = new Command("sequences").description("show the boot's timeline (phases and tasks with their start and duration); --all: every run remembered");
  cmd.option("--all", "every sequence the machine remembers since it booted, not only the boot");
  return addGlobalOptions(cmd, { connect: true }).action((o: { all?: boolean }, c: Command) =>
    withMachine(c, deps, "listing sequences", async (m) => {
      const res = await m.client.sequences({}, m.call);
      const msgs = okMessages(res.messages).map((x) => (o.all ? x : { ...x, runs: x.runs.filter((r) => r.sequence === "boot") }));
      if (m.format === "table") return m.print(formatTable(columns, msgs.flatMap(rowsOf)));
      const docs = msgs.map((x) => toJson(SequencesSchema, x as Sequences));
      const out = m.nodes.length > 1 ? docs : docs[0];
      m.print(m.format === "json" ? `${JSON.stringify(out, null, 2)}\n` : stringify(out));
    }),
  );
}

/** A run's rows: the run itself, then each phase followed by its tasks (offsets from the run's start). */
function rowsOf(msg: Sequences): TimelineRow[] {
  const node = nodeOf(msg);
  return msg.runs.flatMap((r) => [
    { node, sequence: r.label || r.sequence, phase: "", task: "", startMs: 0, durationMs: r.durationMs, result: r.result, error: r.error },
    ...r.phases.flatMap((p) => [
      { node, sequence: r.sequence, phase: p.name, task: "", startMs: p.startMs, durationMs: p.durationMs, result: p.result, error: p.error },
      ...p.tasks.map((x) => ({ node, sequence: r.sequence, phase: p.name, task: x.name, startMs: x.startMs, durationMs: x.durationMs, result: x.result, error: x.error })),
    ]),
  ]);
}

/** 1234 → "1.234s". */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
