// Source "config-drive": a block device (partitions count) whose filesystem
// is labelled kiln-config or cidata (vfat upper-cases it), holding
// config.yaml or else user-data. It is mounted read-only under /run just
// long enough to read the file.
import { mkdtemp, readdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { MNT, MS, type Sys } from "../../sys/sys.js";
import { type FsLabel, probeLabel } from "./fs-label.js";
import { type ConfigSource, found, none, reason, type Roots, type SourceResult } from "./source.js";

export const driveLabels = ["kiln-config", "cidata"];
const files = ["config.yaml", "user-data"];

export interface ConfigDriveOptions {
  sys: Pick<Sys, "mount" | "umount2">;
  roots: Roots;
}

/** The source: every block device in /sys/class/block, in name order. */
export function configDriveSource(opts: ConfigDriveOptions): ConfigSource {
  return {
    name: "config-drive",
    fetch: async (note) => {
      const whys: string[] = [];
      for (const name of await blockDevices(opts.roots.sys)) {
        const dev = join(opts.roots.dev, name.replaceAll("!", "/"));
        const fs = await probeLabel(dev).catch(() => undefined);
        if (!fs || !driveLabels.includes(fs.label.toLowerCase())) continue;
        note(`${fs.fstype} "${fs.label}" on ${dev}`);
        const r = await readDrive(opts, dev, fs);
        if (r.t === "found") return r;
        note(r.why);
        whys.push(r.why);
      }
      return none(whys.length ? whys.join("; ") : `no block device labelled ${driveLabels.join(" or ")}`);
    },
  };
}

/** Names under /sys/class/block with a non-zero size (empty loop and CD drives are skipped). */
async function blockDevices(sysRoot: string): Promise<string[]> {
  const dir = join(sysRoot, "class/block");
  const names = await readdir(dir).catch(() => [] as string[]);
  const sized = await Promise.all(names.map(async (n) => (await readFile(join(dir, n, "size"), "utf8").catch(() => "")).trim() !== "0"));
  return names.filter((_, i) => sized[i]).sort();
}

/** Mounts `dev` read-only on a fresh directory under /run, reads the config, unmounts. */
async function readDrive(opts: ConfigDriveOptions, dev: string, fs: FsLabel): Promise<SourceResult> {
  const dir = await mkdtemp(join(opts.roots.run, "kiln-config-drive-"));
  try {
    opts.sys.mount(dev, dir, fs.fstype, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  } catch (err) {
    await rmdir(dir).catch(() => {});
    return none(`mounting ${dev} (${fs.fstype}): ${reason(err)}`);
  }
  try {
    return await readConfigFile(dir, `${dev} (${fs.label})`);
  } finally {
    unmount(opts.sys, dir);
    await rmdir(dir).catch(() => {});
  }
}

/** config.yaml, else user-data unless it is a cloud-init document. */
async function readConfigFile(dir: string, where: string): Promise<SourceResult> {
  for (const file of files) {
    const yaml = await readFile(join(dir, file), "utf8").catch(() => undefined);
    if (yaml === undefined) continue;
    if (file === "user-data" && isCloudInit(yaml)) return none(`user-data on ${where} is a cloud-init document, not a kiln config; skipped`);
    return found(yaml, `${file} on ${where}`);
  }
  return none(`no ${files.join(" or ")} on ${where}`);
}

/** Whether `text` is meant for cloud-init (#cloud-config, a script, an include, MIME) rather than kiln. */
export function isCloudInit(text: string): boolean {
  if (/^apiVersion:\s*["']?kiln\//m.test(text)) return false;
  const first = text.trimStart().split("\n", 1)[0] ?? "";
  return /^(#cloud-|#!|#include|Content-Type:\s*multipart\/)/i.test(first);
}

/** umount, or detach it if busy: the directory must not stay mounted. */
function unmount(sys: Pick<Sys, "umount2">, dir: string): void {
  try {
    sys.umount2(dir, 0);
  } catch {
    sys.umount2(dir, MNT.DETACH);
  }
}
