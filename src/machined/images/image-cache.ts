// The image's cache of OCI archives (/usr/lib/kiln/images: kiln's pause
// image, and what `kilnctl image build --image-cache` added), imported into
// containerd's k8s.io namespace, where the kubelet's CRI looks, before the
// kubelet starts: pods start on a machine that reaches no registry. Once a
// boot for each containerd socket; the import itself is idempotent.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type ImportedImage, importArchive } from "./import-archive.js";

/** The namespace the kubelet's CRI uses. */
export const KUBERNETES_NAMESPACE = "k8s.io";

const imported = new Map<string, ImportedImage[]>();

/** Imports every *.tar of `dir` (name order) into containerd at `socket`; returns the images named. */
export async function importImageCache(dir: string, socket: string, signal?: AbortSignal): Promise<ImportedImage[]> {
  const key = `${dir}\0${socket}`;
  const known = imported.get(key);
  if (known) return known;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tar")).sort() : [];
  const images: ImportedImage[] = [];
  for (const f of files) {
    try {
      images.push(...(await importArchive(join(dir, f), { socket, namespace: KUBERNETES_NAMESPACE, ...(signal ? { signal } : {}) })));
    } catch (err) {
      throw new Error(`importing the image cache's ${f} into containerd: ${(err as Error).message}`, { cause: err });
    }
  }
  imported.set(key, images);
  return images;
}
