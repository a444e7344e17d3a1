// Reads what the dynamic loader needs from an ELF file (64-bit little-endian):
// the interpreter (PT_INTERP), DT_NEEDED names and DT_RUNPATH/DT_RPATH. Only
// headers and the dynamic section are read, so large binaries cost little.
import { closeSync, openSync, readSync } from "node:fs";

/** The loader-relevant parts of one ELF object. */
export interface ElfInfo {
  /** PT_INTERP, e.g. "/lib64/ld-linux-x86-64.so.2"; undefined for static files and libraries. */
  interp: string | undefined;
  needed: string[];
  /** DT_SONAME, the name other objects need this one by. */
  soname: string | undefined;
  /** DT_RUNPATH entries, unexpanded ($ORIGIN stays as written). */
  runpath: string[];
  /** DT_RPATH entries (ignored by the loader when DT_RUNPATH is present). */
  rpath: string[];
}

/** Result of parsing: errors are values. */
export type ElfResult = { value: ElfInfo } | { error: string };

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT = { NULL: 0, NEEDED: 1, STRTAB: 5, STRSZ: 10, SONAME: 14, RPATH: 15, RUNPATH: 29 } as const;

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** Parses `path`; a file that is not ELF at all is `{ error: "not ELF" }`. */
export function readElf(path: string): ElfResult {
  const fd = openSync(path, "r");
  try {
    return parseElf((pos, len) => readAt(fd, pos, len));
  } catch (err) {
    return { error: `${path}: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** True when the file starts with the ELF magic. */
export function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    return readAt(fd, 0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** Parses an ELF image through a positional reader (tests pass a buffer). */
export function parseElf(read: (pos: number, len: number) => Buffer): ElfResult {
  const head = read(0, 64);
  const problem = checkHeader(head);
  if (problem) return { error: problem };
  const segments = programHeaders(read, head);
  const interp = segments.find((s) => s.type === PT_INTERP);
  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  const info: ElfInfo = { interp: interp && cString(read(interp.offset, interp.filesz), 0), needed: [], soname: undefined, runpath: [], rpath: [] };
  if (dyn) readDynamic(read, dyn, segments, info);
  return { value: info };
}

/** Why the header is not one we read, or undefined when it is. */
function checkHeader(h: Buffer): string | undefined {
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46) return "not ELF";
  if (h[4] !== 2) return `expected a 64-bit ELF (class 2), got class ${h[4]}`;
  if (h[5] !== 1) return `expected little-endian ELF (data 1), got ${h[5]}`;
  if (h.readUInt16LE(54) !== 56) return `unexpected program header size ${h.readUInt16LE(54)}`;
  return undefined;
}

/** The program header table. */
function programHeaders(read: (pos: number, len: number) => Buffer, h: Buffer): Segment[] {
  const phoff = Number(h.readBigUInt64LE(32));
  const phnum = h.readUInt16LE(56);
  const table = read(phoff, phnum * 56);
  if (table.length < phnum * 56) throw new Error("truncated program headers");
  return Array.from({ length: phnum }, (_, i) => {
    const at = i * 56;
    return {
      type: table.readUInt32LE(at),
      offset: Number(table.readBigUInt64LE(at + 8)),
      vaddr: Number(table.readBigUInt64LE(at + 16)),
      filesz: Number(table.readBigUInt64LE(at + 32)),
    };
  });
}

/** Fills `info` from the dynamic section's NEEDED/SONAME/RUNPATH/RPATH entries. */
function readDynamic(read: (pos: number, len: number) => Buffer, dyn: Segment, segs: Segment[], info: ElfInfo): void {
  const entries = dynamicEntries(read(dyn.offset, dyn.filesz));
  const strtab = entries.find(([t]) => t === DT.STRTAB)?.[1];
  const strsz = entries.find(([t]) => t === DT.STRSZ)?.[1] ?? 0;
  if (strtab === undefined) return;
  const strings = read(vaddrToOffset(strtab, segs), strsz);
  for (const [tag, val] of entries) {
    if (tag === DT.NEEDED) info.needed.push(cString(strings, val));
    else if (tag === DT.SONAME) info.soname = cString(strings, val);
    else if (tag === DT.RUNPATH) info.runpath.push(...splitPath(cString(strings, val)));
    else if (tag === DT.RPATH) info.rpath.push(...splitPath(cString(strings, val)));
  }
}

/** (tag, value) pairs up to DT_NULL. */
function dynamicEntries(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = 0; at + 16 <= buf.length; at += 16) {
    const tag = Number(buf.readBigInt64LE(at));
    if (tag === DT.NULL) break;
    out.push([tag, Number(buf.readBigUInt64LE(at + 8))]);
  }
  return out;
}

/** Maps a virtual address to a file offset through the PT_LOAD segments. */
function vaddrToOffset(vaddr: number, segs: Segment[]): number {
  const load = segs.find((s) => s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  if (!load) throw new Error(`address 0x${vaddr.toString(16)} is in no loaded segment`);
  return vaddr - load.vaddr + load.offset;
}

/** The NUL-terminated string at `at`. */
function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString("utf8", at, end < 0 ? buf.length : end);
}

/** A colon-separated search path, empty parts dropped. */
function splitPath(s: string): string[] {
  return s.split(":").filter((p) => p !== "");
}

/** Reads up to `len` bytes at `pos`. */
function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const n = readSync(fd, buf, 0, len, pos);
  return buf.subarray(0, n);
}
