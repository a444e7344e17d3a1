// Files that hold keys and tokens: created with mode 0600 (never readable by
// others, not even for a moment), written atomically, refusing to replace an
// existing file unless asked.
import { constants } from "node:fs";
import { link, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface SecretFileOptions {
  /** Replace `path` when it exists; otherwise an existing file fails with EEXIST. */
  overwrite?: boolean;
}

/** Writes `data` to `path` with mode 0600: temp file, fsync, then rename (or link when not overwriting). */
export async function writeSecretFile(path: string, data: string | Uint8Array, opts: SecretFileOptions = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  try {
    await writeNew(tmp, data);
    if (opts.overwrite) await rename(tmp, path);
    else await link(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    throw new Error(`writing ${path}`, { cause: err });
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Creates `path` (which must not exist) with mode 0600 and writes and syncs `data`. */
async function writeNew(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a directory so a new entry in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
