// Unmounting everything at shutdown: newest mount first, detaching what is
// busy. Never fails hard: the machine is going down either way.
import { readFileSync } from "node:fs";
import { MNT, type Sys, SysError } from "../sys/sys.js";

/** One line of /proc/self/mountinfo, the fields we use. */
export interface MountInfo {
  id: number;
  parentId: number;
  mountPoint: string;
  fstype: string;
}

export interface UnmountOptions {
  mountinfo?: string;
  log?(line: string): void;
}

/** Decodes the octal escapes mountinfo uses for space, tab, newline and backslash. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses mountinfo text; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (fields.length < 5 || sep < 0) continue;
    const [id, parentId, , , mountPoint] = fields;
    mounts.push({ id: Number(id), parentId: Number(parentId), mountPoint: unescapeOctal(mountPoint ?? ""), fstype: fields[sep + 1] ?? "" });
  }
  return mounts;
}

/** Unmounts every mount but / in reverse mountinfo order; EBUSY ones are detached. */
export function unmountAll(sys: Sys, opts: UnmountOptions = {}): void {
  const log = opts.log ?? (() => {});
  let text: string;
  try {
    text = readFileSync(opts.mountinfo ?? "/proc/self/mountinfo", "utf8");
  } catch (err) {
    log(`unmounting: cannot read mountinfo: ${(err as Error).message}`);
    return;
  }
  const mounts = parseMountInfo(text).filter((m) => m.mountPoint !== "/");
  for (const m of mounts.reverse()) unmountOne(sys, m.mountPoint, log);
}

/** umount2, then a lazy detach when busy; other failures are logged. */
function unmountOne(sys: Sys, target: string, log: (line: string) => void): void {
  try {
    sys.umount2(target, 0);
  } catch (err) {
    const code = err instanceof SysError ? err.code : "";
    if (code === "EBUSY") detach(sys, target, log);
    else if (code !== "EINVAL" && code !== "ENOENT") log(`unmounting ${target}: ${(err as Error).message}`);
    // EINVAL/ENOENT: no longer a mount point; it went with a detached parent
  }
}

/** MNT_DETACH: gone from the tree now, freed when no longer used. */
function detach(sys: Sys, target: string, log: (line: string) => void): void {
  try {
    sys.umount2(target, MNT.DETACH);
    log(`unmounting ${target}: busy, detached`);
  } catch (err) {
    log(`detaching ${target}: ${(err as Error).message}`);
  }
}
