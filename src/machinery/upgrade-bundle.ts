// kiln-upgrade.tar: what an upgrade writes into a boot slot, in one file.
// The format is a contract between the image builder (writeBundle) and
// machined (extractBundle), which runs on the machine; so this module needs
// only Node, tar-stream and semver, nothing of the builder's.
//
// A ustar archive of regular files, in this order:
//   kiln-upgrade.json  {"format":1,"version":"<kiln version>","kernel":"<release>",
//                       "files":{"vmlinuz":{"size":N,"sha256":"<hex>"},…}}
//   vmlinuz, initramfs, manifest.json, cmdline
// every entry mode 0644, uid/gid 0, no owner names, mtime the build's
// epoch, so the same inputs give the same bytes. Extraction streams each
// file to disk while hashing it (an initramfs is over 100 MiB) and accepts
// the bundle only when every file is present once with the listed size and
// sha256; otherwise it removes what it wrote.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import semverValid from "semver/functions/valid.js";
import { extract as tarExtract, pack as tarPack, type Header } from "tar-stream";
import { streamClosed } from "./stream-closed.js";

/** The format this module writes and reads. */
export const BUNDLE_FORMAT = 1;
/** The first entry: the bundle's description. */
export const BUNDLE_INFO = "kiln-upgrade.json";
/** The files a slot boots from, in bundle order. */
export const BUNDLE_FILES = ["vmlinuz", "initramfs", "manifest.json", "cmdline"] as const;
export type BundleFile = (typeof BUNDLE_FILES)[number];

/** A bundle's description; `dir` is where extractBundle put its files. */
export interface BundleInfo {
  /** The kiln version the bundle installs (a semantic version). */
  version: string;
  /** The kernel release of its vmlinuz. */
  kernel: string;
  files: Record<(typeof BUNDLE_FILES)[number], { size: number; sha256: string }>;
  dir: string;
}

/** Why a bundle was refused; the message names the file and what to do. */
export class BundleError extends Error {
  override name = "BundleError";
}

const DAMAGED = "the bundle is damaged; build it again or download it again";
const NOT_KILN = "a bundle comes from `kilnctl image build` (DIR/kiln-upgrade.tar)";
/** kiln-upgrade.json is a few hundred bytes; anything this big is not one. */
const MAX_INFO_BYTES = 64 * 1024;

/** Writes the bundle of `files` to `out`, atomically (a temporary file renamed into place). */
export async function writeBundle(
  out: string,
  files: { vmlinuz: string; initramfs: string; manifest: string; cmdline: string },
  o: { version: string; kernel: string; epoch: number },
): Promise<void> {
  const sources: Record<BundleFile, string> = { vmlinuz: files.vmlinuz, initramfs: files.initramfs, "manifest.json": files.manifest, cmdline: files.cmdline };
  const digests = {} as BundleInfo["files"];
  for (const name of BUNDLE_FILES) digests[name] = await digestFile(sources[name]);
  const info = `${JSON.stringify({ format: BUNDLE_FORMAT, version: o.version, kernel: o.kernel, files: digests })}\n`;
  readBundleInfo(info); // what we write, we can read: refuses a version that is not semver
  const header = (name: string, size: number): Header => ({
    name, size, mode: 0o644, uid: 0, gid: 0, uname: "", gname: "", mtime: new Date(o.epoch * 1000), type: "file", linkname: "", devmajor: 0, devminor: 0,
  });
  const tmp = `${out}.tmp-${process.pid}`;
  const pack = tarPack();
  const file = createWriteStream(tmp);
  const written = pipeline(pack, file);
  try {
    await new Promise<void>((resolve, reject) => pack.entry(header(BUNDLE_INFO, Buffer.byteLength(info)), info, (err) => (err ? reject(err) : resolve())));
    for (const name of BUNDLE_FILES) await pipeline(createReadStream(sources[name]), pack.entry(header(name, digests[name].size)) as unknown as Writable);
    pack.finalize();
    await written;
    await rename(tmp, out);
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => undefined);
    await streamClosed(file);
    await rm(tmp, { force: true });
    throw new Error(`writing ${out}`, { cause: err });
  }
}

/** The size and sha256 of a file, read as a stream. */
export async function digestFile(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: h.digest("hex") };
}

/** kiln-upgrade.json's content, checked; throws a BundleError listing every problem. */
export function readBundleInfo(json: string): Omit<BundleInfo, "dir"> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new BundleError(`${BUNDLE_INFO}: not JSON (${(err as Error).message}): ${DAMAGED}`);
  }
  if (!isObject(v)) throw new BundleError(`${BUNDLE_INFO}: expected a JSON object, got ${JSON.stringify(v)}: ${DAMAGED}`);
  if (v.format !== BUNDLE_FORMAT) {
    throw new BundleError(`${BUNDLE_INFO}: format ${JSON.stringify(v.format)}, but this kiln reads format ${BUNDLE_FORMAT}: use a bundle built by a kiln of the same format, or upgrade this machine's kiln first`);
  }
  const problems: string[] = [];
  if (typeof v.version !== "string" || semverValid(v.version) === null) problems.push(`version: expected a semantic version like 1.2.3, got ${JSON.stringify(v.version)}`);
  if (typeof v.kernel !== "string" || v.kernel === "") problems.push(`kernel: expected a kernel release like 6.1.0-28-amd64, got ${JSON.stringify(v.kernel)}`);
  const files = isObject(v.files) ? v.files : {};
  if (!isObject(v.files)) problems.push(`files: expected an object naming ${BUNDLE_FILES.join(", ")}, got ${JSON.stringify(v.files)}`);
  for (const name of Object.keys(files)) if (!isBundleFile(name)) problems.push(`files: lists ${JSON.stringify(name)}, which is not one of ${BUNDLE_FILES.join(", ")}`);
  const out = {} as BundleInfo["files"];
  for (const name of BUNDLE_FILES) {
    const f = files[name];
    if (!isObject(f)) {
      if (isObject(v.files)) problems.push(`files.${name}: missing`);
      continue;
    }
    if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) problems.push(`files.${name}.size: expected a byte count, got ${JSON.stringify(f.size)}`);
    if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)) problems.push(`files.${name}.sha256: expected 64 lowercase hex digits, got ${JSON.stringify(f.sha256)}`);
    out[name] = { size: f.size as number, sha256: f.sha256 as string };
  }
  if (problems.length > 0) throw new BundleError(`${BUNDLE_INFO}: ${problems.join("; ")}: ${DAMAGED}`);
  return { version: v.version as string, kernel: v.kernel as string, files: out };
}

/**
 * Extracts a bundle (a path or a stream of it) into `dir` (created when
 * missing), hashing each file as it is written, and returns its description
 * once every file checks out. On any failure it removes what it extracted
 * and throws a BundleError. `onProgress` gets the bytes written so far and
 * the total kiln-upgrade.json announces.
 */
export async function extractBundle(tar: string | NodeJS.ReadableStream, dir: string, onProgress?: (done: number, total: number) => void): Promise<BundleInfo> {
  const what = typeof tar === "string" ? tar : "the bundle";
  const written: string[] = [];
  let created: string | undefined;
  let stop = () => {};
  try {
    created = await mkdir(dir, { recursive: true });
    const extract = tarExtract();
    // Iterating before any data flows: an entry or error emitted earlier would be lost.
    const entries = extract[Symbol.asyncIterator]();
    const source = (typeof tar === "string" ? createReadStream(tar) : tar) as Readable;
    const onSourceError = (err: Error) => extract.destroy(err);
    source.once("error", onSourceError);
    source.pipe(extract as unknown as Writable);
    stop = () => {
      source.off("error", onSourceError);
      source.unpipe(extract as unknown as Writable);
      if (typeof tar === "string") source.destroy();
      extract.destroy();
    };
    const info = await extractEntries({ [Symbol.asyncIterator]: () => entries }, dir, written, onProgress);
    return { ...info, dir };
  } catch (err) {
    stop();
    await Promise.all(written.map((f) => rm(f, { force: true })));
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw bundleError(err, what);
  } finally {
    stop();
  }
}

/** Reads every entry of the archive: kiln-upgrade.json first, then the files into `dir`; checks them all. */
async function extractEntries(
  extract: AsyncIterable<AsyncIterable<unknown> & { header: Header }>,
  dir: string,
  written: string[],
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<Omit<BundleInfo, "dir">> {
  let info: Omit<BundleInfo, "dir"> | undefined;
  const seen = new Set<string>();
  let [done, total] = [0, 0];
  for await (const entry of extract) {
    const h = entry.header;
    if (info === undefined) {
      if (h.name !== BUNDLE_INFO || h.type !== "file") throw new BundleError(`not a kiln upgrade bundle: its first entry is ${JSON.stringify(h.name)}, expected ${BUNDLE_INFO}: ${NOT_KILN}`);
      if (h.size > MAX_INFO_BYTES) throw new BundleError(`${BUNDLE_INFO}: ${h.size} bytes, more than a description can be: ${DAMAGED}`);
      info = readBundleInfo((await readAll(entry)).toString("utf8"));
      total = BUNDLE_FILES.reduce((n, f) => n + (info as Omit<BundleInfo, "dir">).files[f].size, 0);
      continue;
    }
    const name = checkEntry(h, info, seen);
    const path = join(dir, name);
    written.push(path);
    const got = await writeEntry(entry, path, (n) => {
      done += n;
      onProgress?.(done, total);
    });
    const want = info.files[name];
    if (got.size !== want.size) throw new BundleError(`${name}: ${got.size} bytes, ${BUNDLE_INFO} says ${want.size}: ${DAMAGED}`);
    if (got.sha256 !== want.sha256) throw new BundleError(`${name}: sha256 is ${got.sha256}, ${BUNDLE_INFO} says ${want.sha256}: ${DAMAGED}`);
  }
  if (info === undefined) throw new BundleError(`not a kiln upgrade bundle: it holds no entries, expected ${BUNDLE_INFO} first: ${NOT_KILN}`);
  const missing = BUNDLE_FILES.filter((f) => !seen.has(f));
  if (missing.length > 0) throw new BundleError(`${missing.join(", ")}: missing from the bundle, which ${BUNDLE_INFO} lists: the bundle is incomplete; build it again or download it again`);
  return info;
}

/** The bundle file an entry is, after checking its name, type, uniqueness and size against kiln-upgrade.json. */
function checkEntry(h: Header, info: Omit<BundleInfo, "dir">, seen: Set<string>): BundleFile {
  const name = h.name;
  if (name.includes("/") || name.includes("..")) throw new BundleError(`${JSON.stringify(name)}: a path, where a bundle holds only plain file names (${BUNDLE_FILES.join(", ")}): refusing it; ${NOT_KILN}`);
  if (!isBundleFile(name)) throw new BundleError(`${JSON.stringify(name)}: not a file a bundle holds (${BUNDLE_FILES.join(", ")}): ${NOT_KILN}`);
  if (h.type !== "file") throw new BundleError(`${name}: a ${h.type} entry, where a bundle holds only regular files: ${NOT_KILN}`);
  if (seen.has(name)) throw new BundleError(`${name}: in the bundle twice: ${NOT_KILN}`);
  seen.add(name);
  const want = info.files[name].size;
  if (h.size !== want) throw new BundleError(`${name}: ${h.size} bytes, ${BUNDLE_INFO} says ${want}: ${DAMAGED}`);
  return name;
}

/**
 * Writes an entry's data to `path` (mode 0644), hashing it on the way. Not
 * synced: every caller unpacks into a scratch directory that mkfs.ext4 reads
 * at once (from the page cache) and that is removed afterwards, and a crash
 * before then starts the upgrade or install over; the slot it makes is what
 * must reach the disk, and it is read back from the disk and hashed again.
 */
async function writeEntry(entry: AsyncIterable<unknown>, path: string, progress: (bytes: number) => void): Promise<{ size: number; sha256: string }> {
  const h = createHash("sha256");
  let size = 0;
  const fh = await open(path, "w", 0o644);
  try {
    for await (const chunk of entry) {
      const b = chunk as Buffer;
      h.update(b);
      await fh.write(b);
      size += b.length;
      progress(b.length);
    }
  } finally {
    await fh.close();
  }
  return { size, sha256: h.digest("hex") };
}

/** An entry's whole data (small entries only). */
async function readAll(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Any failure as a BundleError; tar-stream's and the file system's are explained. */
function bundleError(err: unknown, what: string): BundleError {
  if (err instanceof BundleError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/^Invalid( tar)? header/.test(msg)) return new BundleError(`not a kiln upgrade bundle: ${what} is not a tar archive (${msg}): ${NOT_KILN}`, { cause: err });
  if (msg === "Unexpected end of data") return new BundleError(`${what} ends in the middle of an entry: the bundle is truncated; build it again or download it again`, { cause: err });
  return new BundleError(`extracting ${what}: ${msg}`, { cause: err });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isBundleFile(name: string): name is BundleFile {
  return (BUNDLE_FILES as readonly string[]).includes(name);
}
