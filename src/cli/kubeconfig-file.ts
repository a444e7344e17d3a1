// Where `kilnctl kubeconfig` writes, and how: the PATH argument ("-" is
// stdout), else the first entry of $KUBECONFIG, else ~/.kube/config. Merged
// into what is there by default; always 0600, atomically (temp + rename), its
// directory created 0700.
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { writeSecretFile } from "../pki/secret-file.js";
import { CliError, describeError } from "./errors.js";
import { mergeKubeconfig } from "./kubeconfig-merge.js";

/** Where the kubeconfig goes: a file, or stdout ("-"). */
export type KubeconfigTarget = { t: "stdout" } | { t: "file"; path: string };

/** `arg` when given ("-": stdout), else the first entry of $KUBECONFIG, else ~/.kube/config. */
export function locateKubeconfig(arg: string | undefined, env: Record<string, string | undefined>): KubeconfigTarget {
  if (arg === "-") return { t: "stdout" };
  if (arg) return { t: "file", path: resolve(arg) };
  const first = (env.KUBECONFIG ?? "").split(delimiter).find((p) => p !== "");
  if (first) return { t: "file", path: resolve(first) };
  return { t: "file", path: join(env.HOME || homedir(), ".kube", "config") };
}

export interface WriteOptions {
  /** Merge into the existing file (the default); false writes the file whole. */
  merge: boolean;
  /** Replace conflicting entries (merge) or an existing file (no merge). */
  force: boolean;
}

/** Writes `kubeconfig` to `path`, merged into the file there unless `merge` is false. */
export async function writeKubeconfig(path: string, kubeconfig: Record<string, unknown>, o: WriteOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new CliError(`creating ${dirname(path)}`, describeError(err), undefined, { cause: err });
  });
  const text = o.merge ? await mergedText(path, kubeconfig, o.force) : stringify(kubeconfig);
  await writeSecretFile(path, text, { overwrite: o.merge || o.force }).catch((err: unknown) => {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code === "EEXIST") throw new CliError(`writing ${path}`, "the file exists: --force replaces it whole, or leave out --merge=false to merge into it");
    throw new CliError(`writing ${path}`, describeError(cause ?? err), undefined, { cause: err });
  });
}

/** The file at `path` (none: empty) with `kubeconfig` merged in; a conflict fails naming it and --force. */
async function mergedText(path: string, kubeconfig: Record<string, unknown>, force: boolean): Promise<string> {
  const existing = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw new CliError(`reading ${path}`, describeError(err), undefined, { cause: err });
  });
  const merged = mergeKubeconfig(existing, kubeconfig, { force });
  if ("error" in merged) throw new CliError(`merging into ${path}`, merged.error);
  return merged.text;
}
