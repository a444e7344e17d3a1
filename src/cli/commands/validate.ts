// `kilnctl validate -f FILE`: checks a machine config offline and prints
// every problem; exits 1 when it is invalid.
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { CliError, toCliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { renderList, renderOne } from "../output.js";
import { createSession } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `validate`. */
export interface ValidateRecord {
  file: string;
  valid: boolean;
  errors: string[];
  warnings: string[];
}

interface Problem {
  severity: "error" | "warning";
  message: string;
}

const problemColumns: Column<Problem>[] = [
  { header: "SEVERITY", value: (p) => p.severity },
  { header: "PROBLEM", value: (p) => p.message },
];

/** `validate -f FILE`. */
export function createValidateCommand(deps: CliDeps): Command {
  const cmd = new Command("validate")
    .description("check a machine config file without a machine")
    .requiredOption("-f, --file <file>", "machine config (YAML)");
  return addGlobalOptions(cmd, { connect: false }).action(async (o: { file: string }, c: Command) => {
    const s = createSession(c, deps);
    const record = await validate(deps, o.file);
    if (s.format !== "table") s.print(renderOne(s.format, record, []));
    else s.print(record.valid && record.warnings.length === 0 ? `${o.file}: valid\n` : renderList(s.format, problems(record), problemColumns));
    const n = record.errors.length;
    if (!record.valid) throw new CliError(`validating ${o.file}`, `${n} error${n === 1 ? "" : "s"}`);
  });
}

/** Reads and parses the file. */
async function validate(deps: CliDeps, file: string): Promise<ValidateRecord> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw toCliError(err, { what: `reading ${file}` });
  });
  const result = (await deps.parseConfig())(text);
  const errors = "errors" in result ? result.errors.map(String) : [];
  return { file, valid: !("errors" in result), errors, warnings: result.warnings.map(String) };
}

/** Errors then warnings, as table rows. */
function problems(r: ValidateRecord): Problem[] {
  const of = (severity: Problem["severity"]) => (message: string) => ({ severity, message });
  return [...r.errors.map(of("error")), ...r.warnings.map(of("warning"))];
}
