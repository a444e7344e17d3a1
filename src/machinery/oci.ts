// OCI image layout archives (image-spec: oci-layout, index.json,
// blobs/sha256/…): the media types and annotations the builder writes and
// machined's importer reads, and the labels containerd's garbage collector
// follows from an image to its blobs.

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/** The annotation naming an image in index.json: containerd's full name, then OCI's tag. */
export const IMAGE_NAME_ANNOTATION = "io.containerd.image.name";
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** "sha256:<64 hex>": the only digests an archive may name (they become file names). */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The blob path of a digest inside the layout. */
export function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

/** containerd's GC labels of a blob: what it references (a manifest its config and layers, an index its manifests). */
export function gcLabels(doc: Manifest | Index): Record<string, string> {
  const labels: Record<string, string> = {};
  if ("config" in doc) {
    labels["containerd.io/gc.ref.content.config"] = doc.config.digest;
    doc.layers.forEach((l, i) => {
      labels[`containerd.io/gc.ref.content.l.${i}`] = l.digest;
    });
  } else {
    doc.manifests.forEach((m, i) => {
      labels[`containerd.io/gc.ref.content.m.${i}`] = m.digest;
    });
  }
  return labels;
}
