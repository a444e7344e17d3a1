// What gen commands share: refusing to replace files without --force, and
// writing every file with mode 0600.
import { lstat, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { writeSecretFile } from "../../pki/secret-file.js";
import { CliError, describeError, usageError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import type { Column } from "../table.js";

/** A file to write and what it holds. */
export interface GenFile {
  file: string;
  contents: string;
  text: string;
}

/** The JSON/YAML shape of each file gen config writes. */
export interface GenFileRecord {
  file: string;
  contents: string;
}

export const genFileColumns: Column<GenFileRecord>[] = [
  { header: "FILE", value: (r) => r.file },
  { header: "CONTENTS", value: (r) => r.contents },
];

/** Fails naming the first of `paths` that already exists (unless `force`), before anything is written. */
export async function refuseExisting(paths: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const path of paths) {
    const exists = await lstat(path).then(() => true, () => false);
    if (exists) throw new CliError(`writing ${path}`, "file exists; pass --force to overwrite it", ExitCode.failure);
  }
}

/** Writes each file with mode 0600, creating directories (0700) as needed. */
export async function writeGenFiles(files: GenFile[], force: boolean): Promise<GenFileRecord[]> {
  for (const f of files) {
    await mkdir(dirname(f.file), { recursive: true, mode: 0o700 });
    await writeSecretFile(f.file, f.text, { overwrite: force }).catch((err: unknown) => {
      const reason = (err as { cause?: { code?: string } }).cause?.code === "EEXIST" ? "file exists; pass --force to overwrite it" : describeError((err as Error).cause ?? err);
      throw new CliError(`writing ${f.file}`, reason, ExitCode.failure, { cause: err });
    });
  }
  return files.map(({ file, contents }) => ({ file, contents }));
}

/** A cluster or context name: letters, digits, '.', '_' and '-', starting with a letter or digit. */
export function checkName(flag: string, name: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) return name;
  throw usageError(flag, `expected a name of letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit), got "${name}"`);
}
