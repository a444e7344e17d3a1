// The image `kilnctl image build` made last: its output directory, recorded
// in the cache root ($KILN_CACHE, else ~/.cache/kiln) as last-image.json, so
// `cluster create --provisioner qemu` can boot it without --image.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "./paths.js";

export interface LastImage {
  out: string;
  version: string;
  builtAt: string;
}

/** Where the record is. */
export function lastImageFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), "last-image.json");
}

/** Records `image` as the last one built (atomically). */
export function recordLastImage(image: LastImage, env: NodeJS.ProcessEnv = process.env): void {
  const file = lastImageFile(env);
  mkdirSync(join(file, ".."), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(image, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The last image built, or undefined when none is recorded (or the record is unreadable). */
export function lastImage(env: NodeJS.ProcessEnv = process.env): LastImage | undefined {
  const file = lastImageFile(env);
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as Partial<LastImage>;
    return typeof v.out === "string" ? { out: v.out, version: String(v.version ?? ""), builtAt: String(v.builtAt ?? "") } : undefined;
  } catch {
    return undefined;
  }
}
