// The initramfs: a newc cpio archive (cpio.ts) of the given entries,
// compressed by the host's zstd or xz with fixed settings, so the same
// entries always give the same bytes. The kernel needs xz's CRC32 check
// (its decoder has no CRC64) and single-threaded output is the same on any
// machine, hence -T1 for both tools.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, lstatSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { type CpioEntry, writeCpio } from "./cpio.js";

export type Compression = "zstd" | "xz" | "none";

export interface InitramfsOptions {
  entries: CpioEntry[];
  compress: Compression;
  /** Compression level (default 19 for zstd, 6 for xz). */
  level?: number;
  /** mtime of every entry (default $SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  /** Also write the result here. */
  out?: string;
}

/** The compressed archive of `opts.entries`. */
export function buildInitramfs(opts: InitramfsOptions): Buffer {
  const cpio = writeCpio(opts.entries, opts.mtime === undefined ? {} : { mtime: opts.mtime });
  const data = compress(cpio, opts.compress, opts.level);
  if (opts.out) writeFileSync(opts.out, data);
  return data;
}

/** `data` through the named compressor (the identity for "none"). */
export function compress(data: Buffer, how: Compression, level?: number): Buffer {
  if (how === "none") return data;
  const args = how === "zstd" ? [`-${level ?? 19}`, "-T1", "-q", "-c"] : [`-${level ?? 6}`, "-T1", "--check=crc32", "-q", "-c"];
  try {
    return execFileSync(how, args, { input: data, maxBuffer: 1 << 30, stdio: ["pipe", "pipe", "pipe"] });
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(missing ? `${how} is not installed: apt-get install ${how === "zstd" ? "zstd" : "xz-utils"}` : `compressing the initramfs with ${how} ${args.join(" ")} failed`, { cause: err });
  }
}

/**
 * Entries for a host directory tree placed at `at` in the archive: files
 * (contents read now), directories and symlinks with their permission bits,
 * owned by root; anything else is refused.
 */
export function treeEntries(dir: string, at = "/"): CpioEntry[] {
  const out: CpioEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const src = join(dir, name);
    const path = posix.join(at, name);
    const st = lstatSync(src);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) out.push({ path, type: "symlink", target: readlinkSync(src) });
    else if (st.isDirectory()) out.push({ path, type: "dir", mode }, ...treeEntries(src, path));
    else if (st.isFile()) out.push({ path, type: "file", mode, data: readFileSync(src) });
    else throw new Error(`${src} is neither a file, a directory nor a symlink: declare devices as chardev entries instead`);
  }
  return out;
}
