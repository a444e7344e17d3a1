// Finding, reading and writing the kilnconfig: --kilnconfig, else
// $KILNCONFIG, else ~/.kiln/config. Writes are atomic and mode 0600. The
// format module (and zod) loads only when a file is read or written.
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { writeSecretFile } from "../pki/secret-file.js";
import { CliError, describeError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import type { KilnConfig, KilnContext } from "../config/kilnconfig.js";

export interface KilnconfigLocation {
  path: string;
  /** Named by --kilnconfig or $KILNCONFIG (rather than the default path). */
  explicit: boolean;
}

/** Where the kilnconfig is: `flag` (--kilnconfig), else $KILNCONFIG, else ~/.kiln/config. */
export function locateKilnconfig(flag: string | undefined, env: Record<string, string | undefined>): KilnconfigLocation {
  if (flag) return { path: resolve(flag), explicit: true };
  if (env.KILNCONFIG) return { path: resolve(env.KILNCONFIG), explicit: true };
  return { path: join(env.HOME || homedir(), ".kiln", "config"), explicit: false };
}

/** The kilnconfig at `path`, or undefined when there is no such file. */
export async function readKilnconfig(path: string): Promise<KilnConfig | undefined> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new CliError(`reading kilnconfig ${path}`, describeError(err), ExitCode.failure, { cause: err });
  });
  if (text === undefined) return undefined;
  const { parseKilnconfig } = await import("../config/kilnconfig.js");
  const parsed = parseKilnconfig(text);
  if ("errors" in parsed) throw new CliError(`kilnconfig ${path}`, parsed.errors.join("\n"));
  return parsed.value;
}

/** The kilnconfig at `path`, failing when there is none. */
export async function loadKilnconfig(path: string): Promise<KilnConfig> {
  const c = await readKilnconfig(path);
  if (c) return c;
  throw new CliError(`reading kilnconfig ${path}`, "no such file (kilnctl gen config or gen kilnconfig writes one)");
}

/** Writes the kilnconfig (mode 0600, atomically), creating its directory (0700). */
export async function writeKilnconfig(path: string, c: KilnConfig, opts: { overwrite: boolean }): Promise<void> {
  const { stringifyKilnconfig } = await import("../config/kilnconfig.js");
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeSecretFile(path, stringifyKilnconfig(c), opts).catch((err: unknown) => {
    throw new CliError(`writing kilnconfig ${path}`, describeError((err as Error).cause ?? err), ExitCode.failure, { cause: err });
  });
}

/** Reads the kilnconfig, changes it with `edit`, and writes it back atomically. */
export async function editKilnconfig(path: string, edit: (c: KilnConfig) => KilnConfig): Promise<KilnConfig> {
  const updated = edit(await loadKilnconfig(path));
  await writeKilnconfig(path, updated, { overwrite: true });
  return updated;
}

/** Context `name` (default: the current one), failing clearly when there is none. */
export function selectContext(c: KilnConfig, path: string, name?: string): { name: string; context: KilnContext } {
  const chosen = name ?? c.context;
  if (!chosen) throw new CliError(`kilnconfig ${path}`, "no current context; choose one with --context NAME or kilnctl config use-context NAME", ExitCode.usage);
  const context = c.contexts[chosen];
  if (!context) throw new CliError(`context "${chosen}"`, `not found in ${path} (contexts: ${Object.keys(c.contexts).join(", ") || "none"})`, ExitCode.notFound);
  return { name: chosen, context };
}
