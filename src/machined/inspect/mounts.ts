// Mounts from /proc/self/mountinfo (the machine's mount namespace), each
// with its filesystem's size and free space from statfs(2).
import { readFile, statfs } from "node:fs/promises";

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  /** Per-mount options, then the superblock's that differ (as /proc/mounts shows them). */
  options: string;
  /** Bytes; 0 when statfs fails. */
  size: number;
  /** Bytes available to unprivileged users; 0 when statfs fails. */
  available: number;
}

/** Undoes mountinfo's octal escapes (\040 for a space…). */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Per-mount options, then superblock options not already given (rw/ro come from the mount). */
export function mergeOptions(mountOpts: string, superOpts: string): string {
  const own = mountOpts.split(",");
  const extra = superOpts.split(",").filter((o) => o !== "" && o !== "rw" && o !== "ro" && !own.includes(o));
  return [...own, ...extra].join(",");
}

/** One mountinfo line, without sizes; undefined when it has no " - " separator. */
export function parseMountinfoLine(line: string): Omit<MountEntry, "size" | "available"> | undefined {
  const sep = line.indexOf(" - ");
  if (sep < 0) return undefined;
  const pre = line.slice(0, sep).split(" ");
  const [fstype, source, superOpts] = line.slice(sep + 3).split(" ");
  if (pre.length < 6 || fstype === undefined) return undefined;
  return { source: unescapeField(source ?? ""), target: unescapeField(pre[4]!), fstype, options: mergeOptions(pre[5]!, superOpts ?? "") };
}

/** Every mount in a mountinfo text, in mount order. */
export function parseMountinfo(text: string): Omit<MountEntry, "size" | "available">[] {
  return text.split("\n").flatMap((line) => parseMountinfoLine(line) ?? []);
}

/** The mounts of `<procDir>/self/mountinfo` with their sizes (statfs runs off the event loop). */
export async function readMounts(procDir: string): Promise<MountEntry[]> {
  const mounts = parseMountinfo(await readFile(`${procDir}/self/mountinfo`, "utf8"));
  return Promise.all(mounts.map(async (m) => ({ ...m, ...(await sizeOf(m.target)) })));
}

/** Size and available bytes of the filesystem at `target`; zeros when statfs fails. */
async function sizeOf(target: string): Promise<{ size: number; available: number }> {
  try {
    const s = await statfs(target);
    return { size: s.blocks * s.bsize, available: s.bavail * s.bsize };
  } catch {
    return { size: 0, available: 0 };
  }
}
