// Importing an OCI image archive (an image layout in a tar: oci-layout,
// index.json, blobs/sha256/…) into containerd through its own gRPC API:
// every blob into the content store (checked by containerd against its
// digest), manifests and indexes labelled so containerd's garbage collector
// keeps what they reference, then each image index.json names created or
// moved to its new target. All of it under a lease (which expires by itself
// if machined dies), so the collector takes nothing before an image names it. No tool is exec'd. Bounded: at most MAX_ENTRIES
// entries, small documents at most MAX_DOC bytes each.
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { credentials, Metadata } from "@grpc/grpc-js";
import { extract as tarExtract } from "tar-stream";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { Leases } from "../../gen/containerd/services/leases/v1/leases_pb.js";
import { createClient } from "../../grpc/client.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { blobPath, type Descriptor, DIGEST, gcLabels, IMAGE_NAME_ANNOTATION, type Index, type Manifest, MEDIA, REF_NAME_ANNOTATION } from "../../machinery/oci.js";
import { invalid, MachineError } from "../errors.js";
import { writeBlob } from "./content-writer.js";

/** Entries an archive may hold. */
export const MAX_ENTRIES = 10_000;
/** The largest blob kept in memory (manifests, indexes and configs are JSON far below this). */
export const MAX_DOC = 4 << 20;
/** How long each call to containerd may take. */
const CALL_TIMEOUT_MS = 30_000;
/** How long an import's lease outlives a machined that died during it. */
const LEASE_MS = 3_600_000;

export interface ImportedImage {
  name: string;
  digest: string;
  mediaType: string;
}

export interface ImportOptions {
  /** containerd's socket. */
  socket: string;
  /** containerd namespace, e.g. "k8s.io" (the one the kubelet's CRI uses). */
  namespace: string;
  signal?: AbortSignal;
  /** Bytes of the archive read so far. */
  onProgress?: (done: number) => void;
}

/** Imports the archive at `path` (or a stream of one); returns the images it named. */
export async function importArchive(source: string | Readable, o: ImportOptions): Promise<ImportedImage[]> {
  const what = typeof source === "string" ? source : "the archive";
  const target = `unix://${o.socket}`;
  const images = createClient(Images, target, credentials.createInsecure());
  const leases = createClient(Leases, target, credentials.createInsecure());
  const ns = { "containerd-namespace": o.namespace };
  const lease = `kiln-import-${randomUUID()}`;
  const expires = new Date(Date.now() + LEASE_MS).toISOString().replace(/\.\d+Z$/, "Z");
  try {
    await leases.create({ id: lease, labels: { "containerd.io/gc.expire": expires } }, { timeoutMs: CALL_TIMEOUT_MS, metadata: ns });
  } catch (err) {
    images.close();
    leases.close();
    throw err;
  }
  const metadata = new Metadata();
  metadata.set("containerd-namespace", o.namespace);
  metadata.set("containerd-lease", lease);
  try {
    const { index, docs, streamed } = await readArchive(typeof source === "string" ? createReadStream(source) : source, what, images.grpc, metadata, o);
    const tops = index.manifests;
    if (tops.length === 0) throw invalid(`${what}: index.json names no image`);
    // Documents with what they reference as GC labels: children first, so a parent never points at nothing.
    for (const d of walk(tops, docs, streamed, what)) {
      const doc = docs.get(d.digest);
      if (doc) await writeBlob(images.grpc, metadata, { digest: d.digest, size: doc.length, labels: labelsOf(d, doc) }, doc, o.signal);
    }
    const named: ImportedImage[] = [];
    for (const d of tops) {
      const name = imageName(d, what);
      const image = { name, target: { mediaType: d.mediaType, digest: d.digest, size: BigInt(d.size) } };
      const call = { timeoutMs: CALL_TIMEOUT_MS, metadata: { ...ns, "containerd-lease": lease }, ...(o.signal ? { signal: o.signal } : {}) };
      await images.create({ image }, call).catch(async (err: unknown) => {
        if (ApiError.from(err).code !== Code.ALREADY_EXISTS) throw err;
        await images.update({ image, updateMask: { paths: ["target"] } }, call);
      });
      named.push({ name, digest: d.digest, mediaType: d.mediaType });
    }
    return named;
  } finally {
    await leases.delete({ id: lease }, { timeoutMs: CALL_TIMEOUT_MS, metadata: ns }).catch(() => {}); // it expires by itself otherwise
    images.close();
    leases.close();
  }
}

/** Reads the archive: small blobs and index.json kept, large blobs (layers) streamed into containerd as they come. */
async function readArchive(
  stream: Readable,
  what: string,
  grpc: import("@grpc/grpc-js").Client,
  metadata: Metadata,
  o: ImportOptions,
): Promise<{ index: Index; docs: Map<string, Buffer>; streamed: Set<string> }> {
  const found: Found = { docs: new Map(), streamed: new Set(), layout: false, dockerManifest: false };
  let done = 0;
  const ex = tarExtract();
  stream.on("data", (c: Buffer) => {
    done += c.length;
    o.onProgress?.(done);
  });
  stream.on("error", (err) => ex.destroy(err));
  stream.pipe(ex);
  try {
    await readEntries(ex, what, grpc, metadata, o, found);
  } catch (err) {
    throw notTar(err, what);
  }
  // docker save of Docker 25 and later writes an OCI layout next to its manifest.json: that is taken; an older one is not.
  if (found.dockerManifest && (!found.layout || !found.indexJson)) {
    throw invalid(`${what}: a docker archive (docker save before Docker 25); kiln imports OCI archives: save it with 'docker save' of Docker 25 or later, 'podman save --format oci-archive', or 'skopeo copy … oci-archive:FILE'`);
  }
  if (!found.layout || !found.indexJson) throw invalid(`${what}: not an OCI image archive (no oci-layout or index.json); give an archive like 'podman save --format oci-archive' writes`);
  return { index: parseJson<Index>(found.indexJson, what, "index.json"), docs: found.docs, streamed: found.streamed };
}

/** What the tar reader's own errors (a header that is not tar, data cut short) mean to the caller; other errors as they are. */
function notTar(err: unknown, what: string): unknown {
  if (err instanceof ApiError || err instanceof MachineError || (err as NodeJS.ErrnoException).code !== undefined) return err;
  return invalid(`${what}: not a tar archive, or one cut short (${(err as Error).message}): give an OCI image archive, uncompressed (.tar)`, err);
}

/** What the entries of an archive held. */
interface Found {
  docs: Map<string, Buffer>;
  streamed: Set<string>;
  indexJson?: Buffer;
  layout: boolean;
  dockerManifest: boolean;
}

/** Each entry of the tar: small blobs and index.json kept in `found`, large blobs written to containerd. */
async function readEntries(ex: ReturnType<typeof tarExtract>, what: string, grpc: import("@grpc/grpc-js").Client, metadata: Metadata, o: ImportOptions, found: Found): Promise<void> {
  let entries = 0;
  for await (const entry of ex) {
    if (++entries > MAX_ENTRIES) throw invalid(`${what}: more than ${MAX_ENTRIES} entries; is it an image archive?`);
    const name = entry.header.name.replace(/^\.\//, "");
    const size = entry.header.size ?? 0;
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (entry.header.type !== "file") {
      entry.resume();
    } else if (name === "oci-layout" || name === "manifest.json") {
      if (name === "oci-layout") found.layout = true;
      else found.dockerManifest = true;
      entry.resume();
    } else if (name === "index.json") {
      found.indexJson = await small(entry as AsyncIterable<Buffer>, size, what, name);
    } else if (blob && size <= MAX_DOC) {
      found.docs.set(`sha256:${blob[1]}`, await small(entry as AsyncIterable<Buffer>, size, what, name));
    } else if (blob) {
      await writeBlob(grpc, metadata, { digest: `sha256:${blob[1]}`, size }, entry as AsyncIterable<Buffer>, o.signal);
      found.streamed.add(`sha256:${blob[1]}`);
    } else {
      entry.resume();
    }
  }
}

/** An entry's bytes (at most MAX_DOC). */
async function small(entry: AsyncIterable<Buffer>, size: number, what: string, name: string): Promise<Buffer> {
  if (size > MAX_DOC) throw invalid(`${what}: ${name} is ${size} bytes, over ${MAX_DOC}`);
  const parts: Buffer[] = [];
  for await (const p of entry) parts.push(p);
  return Buffer.concat(parts);
}

/** Every descriptor under `tops`, children before parents; each referenced digest checked. */
function walk(tops: Descriptor[], docs: Map<string, Buffer>, streamed: Set<string>, what: string): Descriptor[] {
  const out: Descriptor[] = [];
  const seen = new Set<string>();
  const visit = (d: Descriptor, depth: number) => {
    if (!DIGEST.test(d.digest)) throw invalid(`${what}: "${d.digest}" is not a sha256 digest`);
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (depth > 4) throw invalid(`${what}: indexes nested deeper than 4`);
    const doc = docs.get(d.digest);
    if (isIndex(d.mediaType)) {
      if (!doc) throw invalid(`${what}: index ${d.digest} is missing (${blobPath(d.digest)})`);
      for (const m of parseJson<Index>(doc, what, d.digest).manifests ?? []) visit(m, depth + 1);
    } else if (isManifest(d.mediaType)) {
      if (!doc) throw invalid(`${what}: manifest ${d.digest} is missing (${blobPath(d.digest)})`);
      const m = parseJson<Manifest>(doc, what, d.digest);
      for (const c of [m.config, ...(m.layers ?? [])]) visit(c, depth + 1);
    } else if (!doc && !streamed.has(d.digest)) {
      throw invalid(`${what}: blob ${d.digest} (${d.mediaType}) is missing (${blobPath(d.digest)})`);
    }
    out.push(d);
  };
  for (const d of tops) visit(d, 0);
  return out;
}

function isIndex(t: string): boolean {
  return t === MEDIA.index || t === MEDIA.dockerManifestList;
}

function isManifest(t: string): boolean {
  return t === MEDIA.manifest || t === MEDIA.dockerManifest;
}

/** GC labels for a manifest or index; none for other blobs. */
function labelsOf(d: Descriptor, doc: Buffer): Record<string, string> | undefined {
  if (!isIndex(d.mediaType) && !isManifest(d.mediaType)) return undefined;
  return gcLabels(JSON.parse(doc.toString("utf8")) as Manifest | Index);
}

/** The name index.json gives an image: containerd's annotation, else an OCI ref name that is a whole name. */
function imageName(d: Descriptor, what: string): string {
  const full = d.annotations?.[IMAGE_NAME_ANNOTATION];
  if (full) return full;
  const ref = d.annotations?.[REF_NAME_ANNOTATION];
  if (ref && /[/:]/.test(ref)) return ref;
  throw invalid(`${what}: image ${d.digest} has no name (annotation ${IMAGE_NAME_ANNOTATION}, or ${REF_NAME_ANNOTATION} holding a whole name like registry/name:tag)`);
}

function parseJson<T>(b: Buffer, what: string, name: string): T {
  try {
    return JSON.parse(b.toString("utf8")) as T;
  } catch (err) {
    throw invalid(`${what}: ${name} is not JSON: ${(err as Error).message}`);
  }
}
