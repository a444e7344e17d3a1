// A one-layer OCI image archive (an OCI image layout in a tar) from files on
// the build host: how the builder makes the pause image from Debian's static
// catatonit, with no registry and no container tool. Deterministic: every
// timestamp is `epoch`, so the same inputs give the same digests.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { pack as tarPack } from "tar-stream";
import { blobPath, type Descriptor, IMAGE_NAME_ANNOTATION, type Index, type Manifest, MEDIA, REF_NAME_ANNOTATION } from "../machinery/oci.js";

export interface OciImageSpec {
  /** The full name containerd gives the image, e.g. "kiln.local/pause:0.1.7". */
  name: string;
  /** Files of the one layer: path inside the image, host source, mode. */
  files: { path: string; source: string; mode: number }[];
  entrypoint: string[];
  epoch: number;
}

/** The archive's bytes and the manifest's digest. */
export async function ociImageArchive(spec: OciImageSpec): Promise<{ archive: Buffer; manifestDigest: string }> {
  const mtime = new Date(spec.epoch * 1000);
  const layer = await tarOf(spec.files.map((f) => ({ name: f.path.replace(/^\//, ""), mode: f.mode, mtime, data: readFileSync(f.source) })));
  const layerDesc = descriptor(MEDIA.layer, layer);
  const created = new Date(spec.epoch * 1000).toISOString();
  const config = json({
    created,
    architecture: "amd64",
    os: "linux",
    config: { Entrypoint: spec.entrypoint },
    rootfs: { type: "layers", diff_ids: [layerDesc.digest] },
  });
  const configDesc = descriptor(MEDIA.config, config);
  const manifest = json({ schemaVersion: 2, mediaType: MEDIA.manifest, config: configDesc, layers: [layerDesc] } satisfies Manifest);
  const tag = spec.name.slice(spec.name.lastIndexOf(":") + 1);
  const manifestDesc = { ...descriptor(MEDIA.manifest, manifest), annotations: { [IMAGE_NAME_ANNOTATION]: spec.name, [REF_NAME_ANNOTATION]: tag } };
  const index = json({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [manifestDesc] } satisfies Index);
  const file = (name: string, data: Buffer) => ({ name, mode: 0o644, mtime, data });
  const archive = await tarOf([
    file("oci-layout", json({ imageLayoutVersion: "1.0.0" })),
    file("index.json", index),
    file(blobPath(configDesc.digest), config),
    file(blobPath(layerDesc.digest), layer),
    file(blobPath(manifestDesc.digest), manifest),
  ]);
  return { archive, manifestDigest: manifestDesc.digest };
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

function descriptor(mediaType: string, data: Buffer): Descriptor {
  return { mediaType, digest: `sha256:${createHash("sha256").update(data).digest("hex")}`, size: data.length };
}

interface TarFile {
  name: string;
  mode: number;
  mtime: Date;
  data: Buffer;
}

/** A tar of `files`, in order, owned by root. */
async function tarOf(files: TarFile[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    p.on("end", resolve);
    p.on("error", reject);
  });
  for (const { data, ...h } of files) {
    await new Promise<void>((resolve, reject) => p.entry({ ...h, uid: 0, gid: 0, uname: "", gname: "" }, data, (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}
