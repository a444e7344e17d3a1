// Byte counts and file modes as kilnctl's tables show them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** A byte count in binary units with one decimal above KiB: "512 B", "1.5 GiB". */
export function formatBytes(n: number): string {
  let i = 0;
  for (; n >= 1024 && i < UNITS.length - 1; i++) n /= 1024;
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${UNITS[i]}`;
}

/** S_IFMT values and the letter ls(1) shows for each. */
const TYPES = new Map([[0o040000, "d"], [0o120000, "l"], [0o020000, "c"], [0o060000, "b"], [0o010000, "p"], [0o140000, "s"]]);

/** The file type letter ls(1) shows for an st_mode. */
function typeLetter(mode: number): string {
  return TYPES.get(mode & 0o170000) ?? "-";
}

/** An st_mode as ls -l prints it: "drwxr-xr-x", "-rwsr-xr-x", "drwxrwxrwt". */
export function formatMode(mode: number): string {
  const bit = (mask: number, c: string) => (mode & mask ? c : "-");
  const special = (x: string, set: boolean, upper: string, lower: string) => (set ? (x === "x" ? lower : upper) : x);
  const perms = [bit(0o400, "r"), bit(0o200, "w"), special(bit(0o100, "x"), (mode & 0o4000) !== 0, "S", "s"),
    bit(0o040, "r"), bit(0o020, "w"), special(bit(0o010, "x"), (mode & 0o2000) !== 0, "S", "s"),
    bit(0o004, "r"), bit(0o002, "w"), special(bit(0o001, "x"), (mode & 0o1000) !== 0, "T", "t")];
  return typeLetter(mode) + perms.join("");
}
