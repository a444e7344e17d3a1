// The kernel and its modules, from Debian's linux-image-amd64: the meta
// package names the versioned one (linux-image-<release>), which is
// downloaded with apt and unpacked with dpkg-deb into <cache>/<release>/.
// The package ships no modules.dep (its postinst runs depmod, and this host
// has none), so the builder writes one from each module's .modinfo
// "depends=" field: one line per module, "path: direct deps", paths relative
// to the modules directory, as depmod writes them (depmod lists the whole
// closure; resolveModules follows the graph either way).
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { moduleName, moduleSuffix } from "../machinery/modules-dep.js";
import { cachedDir } from "./cache.js";

export interface KernelOptions {
  /** Where releases are unpacked, one directory each. */
  cacheDir: string;
  /** The kernel release (e.g. 6.1.0-56-amd64); default: what linux-image-amd64 depends on. */
  release?: string;
}

export interface Kernel {
  /** The kernel release, as `uname -r` prints it and /lib/modules names it. */
  version: string;
  /** The Debian package and its version. */
  package: string;
  packageVersion: string;
  vmlinuz: string;
  modulesDir: string;
  /** True when the release was already unpacked. */
  cached: boolean;
}

const metaPackage = "linux-image-amd64";

/** Downloads and unpacks the kernel package (or reuses it); see the header. */
export function fetchKernel(opts: KernelOptions): Kernel {
  const release = opts.release ?? resolveRelease();
  const pkg = `linux-image-${release}`;
  const hit = cachedDir(opts.cacheDir, release, (tmp) => unpackKernel(pkg, release, opts.cacheDir, tmp));
  const meta = JSON.parse(readFileSync(join(hit.dir, "kernel.json"), "utf8")) as { packageVersion: string };
  const vmlinuz = join(hit.dir, "boot", `vmlinuz-${release}`);
  return { version: release, package: pkg, packageVersion: meta.packageVersion, vmlinuz, modulesDir: join(hit.dir, "lib/modules", release), cached: hit.cached };
}

/** The release linux-image-amd64 depends on, running `apt-get update` once if apt does not know it. */
export function resolveRelease(): string {
  const found = dependsOnImage();
  if (found) return found;
  run("apt-get", ["update"], `apt knows no ${metaPackage}`);
  const again = dependsOnImage();
  if (!again) throw new Error(`${metaPackage} has no linux-image-<release> dependency even after apt-get update: check /etc/apt/sources.list for Debian main`);
  return again;
}

/** The release named by `apt-cache depends linux-image-amd64`, or undefined. */
function dependsOnImage(): string | undefined {
  let out: string;
  try {
    out = execFileSync("apt-cache", ["depends", metaPackage], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
  return /Depends: linux-image-(\S+)/.exec(out)?.[1];
}

/** Downloads `pkg` next to the cache entry, unpacks it into `into`, indexes its modules, drops the .deb. */
function unpackKernel(pkg: string, release: string, cacheDir: string, into: string): void {
  const debs = join(cacheDir, ".debs");
  mkdirSync(debs, { recursive: true });
  run("apt-get", ["download", "-o", "APT::Sandbox::User=root", pkg], `downloading ${pkg} (try apt-get update)`, debs);
  const deb = readdirSync(debs).find((n) => n.startsWith(`${pkg}_`) && n.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}: check apt's output and the network`);
  run("dpkg-deb", ["-x", join(debs, deb), into], `unpacking ${deb}`);
  const packageVersion = run("dpkg-deb", ["-f", join(debs, deb), "Version"], `reading ${deb}`).trim();
  writeModulesDep(join(into, "lib/modules", release));
  writeFileSync(join(into, "kernel.json"), `${JSON.stringify({ release, package: pkg, packageVersion }, null, 2)}\n`);
  rmSync(join(debs, deb));
}

/** Runs a program; on failure throws `what`, the program's stderr and the cause. */
function run(cmd: string, args: string[], what: string, cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`${what}: ${cmd} ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`, { cause: err });
  }
}

/** Writes modulesDir/modules.dep from every module's .modinfo (direct dependencies). */
export function writeModulesDep(modulesDir: string): void {
  const files = moduleFiles(modulesDir, "kernel");
  const byName = new Map(files.map((f) => [moduleName(f), f]));
  const lines = files.map((f) => {
    const deps = modinfo(join(modulesDir, f)).get("depends")?.split(",").filter(Boolean) ?? [];
    return `${f}:${deps.map((d) => ` ${byName.get(moduleName(d)) ?? missingDep(f, d)}`).join("")}`;
  });
  writeFileSync(join(modulesDir, "modules.dep"), `${lines.join("\n")}\n`);
}

/** Throws: module `f` depends on `d`, which the package does not ship. */
function missingDep(f: string, d: string): never {
  throw new Error(`module ${f} depends on ${d}, which is not in the package: the kernel package is incomplete, delete the cache entry and fetch again`);
}

/** Module files under `dir` (relative to the modules directory), sorted. */
function moduleFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, d.name);
    if (d.isDirectory()) out.push(...moduleFiles(root, rel));
    else if (moduleSuffix.test(d.name)) out.push(rel);
  }
  return out.sort();
}

/** The key=value pairs of a module's .modinfo section (compressed modules via xz/zstd/gzip). */
export function modinfo(file: string): Map<string, string> {
  const section = modinfoSection(file.endsWith(".ko") ? filePositional(file) : bufferPositional(decompress(file)), file);
  const out = new Map<string, string>();
  for (const s of section.toString("utf8").split("\0")) {
    const eq = s.indexOf("=");
    if (eq > 0 && !out.has(s.slice(0, eq))) out.set(s.slice(0, eq), s.slice(eq + 1));
  }
  return out;
}

type Positional = (pos: number, len: number) => Buffer;

/** The .modinfo section of an ELF64 little-endian object. */
function modinfoSection(read: Positional, file: string): Buffer {
  const ehdr = read(0, 64);
  if (ehdr.readUInt32BE(0) !== 0x7f454c46 || ehdr[4] !== 2 || ehdr[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF module: the kernel package is not amd64`);
  const shoff = Number(ehdr.readBigUInt64LE(0x28));
  const [entsize, count, strndx] = [ehdr.readUInt16LE(0x3a), ehdr.readUInt16LE(0x3c), ehdr.readUInt16LE(0x3e)];
  const table = read(shoff, entsize * count);
  const sect = (i: number) => ({ name: table.readUInt32LE(i * entsize), off: Number(table.readBigUInt64LE(i * entsize + 0x18)), size: Number(table.readBigUInt64LE(i * entsize + 0x20)) });
  const names = read(sect(strndx).off, sect(strndx).size);
  for (let i = 0; i < count; i++) if (cstring(names, sect(i).name) === ".modinfo") return read(sect(i).off, sect(i).size);
  throw new Error(`${file} has no .modinfo section: is it a kernel module?`);
}

/** The NUL-terminated string at `at`. */
function cstring(b: Buffer, at: number): string {
  const end = b.indexOf(0, at);
  return b.toString("latin1", at, end < 0 ? b.length : end);
}

/** Reads byte ranges of a file without loading it whole. */
function filePositional(file: string): Positional {
  return (pos, len) => {
    const fd = openSync(file, "r");
    try {
      const b = Buffer.alloc(len);
      return b.subarray(0, readSync(fd, b, 0, len, pos));
    } finally {
      closeSync(fd);
    }
  };
}

/** Reads byte ranges of a buffer. */
function bufferPositional(buf: Buffer): Positional {
  return (pos, len) => buf.subarray(pos, pos + len);
}

/** A compressed module's bytes, through the host's xz, zstd or gzip. */
function decompress(file: string): Buffer {
  const tool = file.endsWith(".xz") ? "xz" : file.endsWith(".zst") ? "zstd" : "gzip";
  try {
    return execFileSync(tool, ["-dc", file], { maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    throw new Error(`decompressing ${file} with ${tool} failed: install ${tool}`, { cause: err });
  }
}


