// machine.files: files written into the writable places (/etc, /var).
import { appendFileSync, chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import type { ApplyEnv } from "./apply-env.js";

type FileSpec = NonNullable<MachineConfig["machine"]["files"]>[number];

/** Writes every file; returns one warning per file that could not be written. */
export function applyFiles(env: ApplyEnv, files: FileSpec[]): string[] {
  const warnings: string[] = [];
  for (const f of files) {
    try {
      writeOne(join(env.root, f.path), f);
    } catch (err) {
      warnings.push(`file ${f.path}: ${(err as Error).message}`);
    }
  }
  return warnings;
}

/** create: write (replacing an earlier write); overwrite: the file must exist; append: add to it. */
function writeOne(path: string, f: FileSpec): void {
  const mode = fileMode(f.permissions);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (f.op === "overwrite" && !existsSync(path)) throw new Error("op overwrite: the file does not exist; use op create");
  if (f.op === "append") appendFileSync(path, f.content, { mode });
  else writeFileSync(path, f.content, { mode });
  chmodSync(path, mode);
}

/** The numeric mode of a permissions value (number, or octal string like "0644"). */
function fileMode(p: number | string | undefined): number {
  if (p === undefined) return 0o644;
  return typeof p === "number" ? p : Number.parseInt(p, 8);
}
