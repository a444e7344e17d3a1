// Resolves the shared libraries a set of ELF programs needs, recursively, the
// way the dynamic loader would on this host, and says where each belongs in an
// image that has no ld.so.cache: libraries from the standard directories go to
// /usr/lib/x86_64-linux-gnu, the one directory the loader always searches.
import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { readElf } from "./elf.js";
import { canonicalPath } from "../machinery/image-layout.js";

/** Where the loader looks after DT_RPATH/DT_RUNPATH (Debian amd64, merged /usr). */
export const defaultLibDirs = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/** The directory in the image that holds libraries found in the standard directories. */
export const imageLibDir = "/usr/lib/x86_64-linux-gnu";

/** One shared object (or interpreter) to put in the image. */
export interface LibFile {
  /** The name it was asked for: a DT_NEEDED entry, or the PT_INTERP path. */
  name: string;
  /** Where it was found on the host. */
  source: string;
  /** Where it goes in the image. */
  dest: string;
  /** The object that first needed it. */
  neededBy: string;
}

export type LibsResult = { value: LibFile[] } | { error: string };

/** Every library `programs` need, transitively, sorted by destination. Non-ELF files need none. */
export function resolveLibraries(programs: string[], searchDirs = defaultLibDirs): LibsResult {
  const found = new Map<string, LibFile>();
  // Names already satisfied: the loader loads a soname once (the interpreter's included).
  const loaded = new Set<string>();
  const missing: string[] = [];
  const queue = [...programs];
  for (let obj = queue.shift(); obj !== undefined; obj = queue.shift()) {
    const elf = readElf(obj);
    if ("error" in elf) {
      if (elf.error.endsWith("not ELF")) continue;
      return { error: elf.error };
    }
    const { interp, needed } = elf.value;
    if (interp) addLib(found, loaded, queue, { name: interp, source: interp, dest: canonicalPath(interp), neededBy: obj });
    for (const name of needed.filter((n) => !loaded.has(n))) {
      const lib = locate(name, obj, elf.value, searchDirs);
      if (lib) addLib(found, loaded, queue, lib);
      else missing.push(`${name} (needed by ${obj})`);
    }
  }
  if (missing.length > 0) return { error: `shared libraries not found: ${[...new Set(missing)].join(", ")}` };
  return { value: [...found.values()].sort((a, b) => cmp(a.dest, b.dest)) };
}

/** Records a library once (by destination and by name/soname) and queues it for its own needs. */
function addLib(found: Map<string, LibFile>, loaded: Set<string>, queue: string[], lib: LibFile): void {
  loaded.add(lib.name);
  const elf = readElf(lib.source);
  if ("value" in elf && elf.value.soname) loaded.add(elf.value.soname);
  if (found.has(lib.dest)) return;
  found.set(lib.dest, lib);
  queue.push(lib.source);
}

/** Finds `name` for object `obj` as ld.so does: RPATH (without RUNPATH), RUNPATH, standard dirs. */
function locate(name: string, obj: string, elf: { runpath: string[]; rpath: string[] }, searchDirs: string[]): LibFile | undefined {
  if (name.includes("/")) return existsSync(name) ? { name, source: name, dest: canonicalPath(name), neededBy: obj } : undefined;
  const own = elf.runpath.length > 0 ? elf.runpath : elf.rpath;
  for (const dir of own.map((d) => expandOrigin(d, obj))) {
    const p = join(dir, name);
    if (isFile(p)) return { name, source: p, dest: canonicalPath(p), neededBy: obj };
  }
  for (const dir of searchDirs) {
    const p = join(dir, name);
    if (isFile(p)) return { name, source: p, dest: join(imageLibDir, name), neededBy: obj };
  }
  return undefined;
}

/** Replaces $ORIGIN / ${ORIGIN} with the directory holding the object. */
export function expandOrigin(dir: string, obj: string): string {
  return dir.replace(/\$\{ORIGIN\}|\$ORIGIN/g, dirname(realpathSync(obj)));
}

/** True for an existing regular file (following symlinks). */
function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Byte-wise string order, independent of locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
