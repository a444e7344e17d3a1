// A deterministic writer for the newc ("070701") cpio format, the one the
// Linux kernel unpacks as an initramfs. Same entries, same bytes: entries are
// sorted by path (bytewise), missing parent directories are added, every
// mtime is fixed, inode numbers are assigned in order, and uid/gid come only
// from the entries. Format: a 110-byte ASCII header of 13 eight-digit hex
// fields, the NUL-terminated name padded so header+name is a multiple of 4,
// then the data padded to a multiple of 4; the archive ends with TRAILER!!!.
import { posix } from "node:path";

export type CpioEntry =
  | { path: string; type: "file"; mode?: number; uid?: number; gid?: number; data: Buffer | string }
  | { path: string; type: "dir"; mode?: number; uid?: number; gid?: number }
  | { path: string; type: "symlink"; mode?: number; uid?: number; gid?: number; target: string }
  | { path: string; type: "chardev"; mode?: number; uid?: number; gid?: number; major: number; minor: number };

export interface CpioOptions {
  /** mtime of every entry, in seconds (default $SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
}

// File type bits of st_mode, as the header's mode field carries them.
const typeBits = { file: 0o100000, dir: 0o040000, symlink: 0o120000, chardev: 0o020000 } as const;
const defaultModes = { file: 0o644, dir: 0o755, symlink: 0o777, chardev: 0o600 } as const;
const trailerName = "TRAILER!!!";

/** The archive holding `entries` (plus their missing parent directories). */
export function writeCpio(entries: CpioEntry[], opts: CpioOptions = {}): Buffer {
  const mtime = opts.mtime ?? epochFromEnv(process.env);
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  normalize(entries).forEach((e, i) => {
    for (const b of record(e, i + 1, mtime, offset)) push(b);
  });
  for (const b of trailer(offset)) push(b);
  return Buffer.concat(parts);
}

/** $SOURCE_DATE_EPOCH as a number of seconds, else 0; throws on garbage. */
export function epochFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return 0;
  if (!/^\d+$/.test(raw)) throw new Error(`SOURCE_DATE_EPOCH=${raw} is not a number of seconds: unset it or give an integer`);
  return Number(raw);
}

/** Archive-relative paths, parents added, sorted bytewise; throws on duplicates and bad paths. */
export function normalize(entries: CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = archivePath(e.path);
    if (byPath.has(path) && byPath.get(path)?.type !== "dir") throw new Error(`cpio: duplicate entry ${path}: give each path once`);
    if (byPath.has(path) && e.type !== "dir") throw new Error(`cpio: ${path} is both a directory and a ${e.type}: give each path once`);
    byPath.set(path, { ...e, path });
    for (let p = posix.dirname(path); p !== "."; p = posix.dirname(p)) if (!byPath.has(p)) byPath.set(p, { path: p, type: "dir" });
  }
  for (const e of byPath.values()) {
    const parent = byPath.get(posix.dirname(e.path));
    if (parent && parent.type !== "dir") throw new Error(`cpio: ${e.path} lies under ${parent.path}, a ${parent.type}: make ${parent.path} a directory`);
  }
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** `path` without leading slashes, normalized; throws on "", "." and "..". */
function archivePath(path: string): string {
  const p = posix.normalize(path).replace(/^\/+/, "").replace(/\/+$/, "");
  if (p === "" || p === "." || p === ".." || p.startsWith("../") || p.includes("\0")) {
    throw new Error(`cpio: bad entry path ${JSON.stringify(path)}: use a path below the archive root`);
  }
  return p;
}

/** Header, padded name, padded data of one entry; `offset` is where it starts. */
function record(e: CpioEntry, ino: number, mtime: number, offset: number): Buffer[] {
  const data = e.type === "file" ? Buffer.from(e.data) : e.type === "symlink" ? Buffer.from(e.target) : Buffer.alloc(0);
  const mode = typeBits[e.type] | ((e.mode ?? defaultModes[e.type]) & 0o7777);
  const rdev = e.type === "chardev" ? [e.major, e.minor] : [0, 0];
  const head = header({ ino, mode, uid: e.uid ?? 0, gid: e.gid ?? 0, nlink: e.type === "dir" ? 2 : 1, mtime, size: data.length, rdev, name: e.path });
  return withPadding(head, data, offset);
}

/** The TRAILER!!! record that ends the archive. */
function trailer(offset: number): Buffer[] {
  return withPadding(header({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, rdev: [0, 0], name: trailerName }), Buffer.alloc(0), offset);
}

interface Header {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  rdev: number[];
  name: string;
}

/** The 110-byte header followed by the NUL-terminated name (unpadded). */
function header(h: Header): Buffer {
  const name = Buffer.from(`${h.name}\0`);
  const fields = [h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, h.size, 0, 0, h.rdev[0] ?? 0, h.rdev[1] ?? 0, name.length, 0];
  return Buffer.concat([Buffer.from(`070701${fields.map(hex8).join("")}`, "ascii"), name]);
}

/** `n` as eight hex digits; throws when it does not fit the format's 32 bits. */
function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: field value ${n} does not fit in 32 bits (files over 4 GiB are not supported)`);
  return n.toString(16).padStart(8, "0");
}

/** head+pad so it ends 4-aligned (from `offset`), then data+pad likewise. */
function withPadding(head: Buffer, data: Buffer, offset: number): Buffer[] {
  const afterHead = offset + head.length;
  const out = [head, zeros(afterHead)];
  if (data.length === 0) return out;
  const afterData = afterHead + zeros(afterHead).length + data.length;
  return [...out, data, zeros(afterData)];
}

/** The zero bytes that bring position `at` to a multiple of 4. */
function zeros(at: number): Buffer {
  return Buffer.alloc((4 - (at % 4)) % 4);
}
