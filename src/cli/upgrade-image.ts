// What `upgrade --image` names: an http(s) URL the machine fetches itself, or
// a local bundle file kilnctl uploads. A file is checked before anything is
// sent, so a typo is a usage error, not a half-done upload.
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { usageError } from "./errors.js";

/** The bundle to install: fetched by the machine, or uploaded from here. */
export type UpgradeImage = { t: "url"; url: string } | { t: "file"; path: string; size: number };

/** The file `kilnctl image build` writes the upgrade bundle to, in its --out directory. */
export const bundleFileName = "kiln-upgrade.tar";

/** --image as a URL or a readable, non-empty file; a usage error naming the problem otherwise. */
export async function resolveImage(text: string): Promise<UpgradeImage> {
  if (/^https?:\/\//i.test(text)) return { t: "url", url: text };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw usageError("--image", `expected a local file or an http(s) URL, got "${text}" (the machine fetches only http and https)`);
  }
  return { t: "file", path: text, size: await readableSize(text) };
}

/** The size of the bundle file at `path`, after checking it is a readable, non-empty file. */
async function readableSize(path: string): Promise<number> {
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    const why = st.code === "ENOENT" ? "no such file" : st.code === "EACCES" ? "permission denied" : st.message;
    throw usageError("--image", `${path}: ${why} (give the ${bundleFileName} that kilnctl image build writes, or an http(s) URL)`);
  }
  if (st.isDirectory()) throw usageError("--image", `${path}: is a directory (give the bundle file in it, e.g. ${join(path, bundleFileName)})`);
  if (!st.isFile()) throw usageError("--image", `${path}: not a regular file (give the ${bundleFileName} that kilnctl image build writes)`);
  if (st.size === 0) throw usageError("--image", `${path}: the file is empty (is the image build finished?)`);
  await access(path, constants.R_OK).catch(() => {
    throw usageError("--image", `${path}: permission denied (kilnctl must be able to read it to upload it)`);
  });
  return st.size;
}
