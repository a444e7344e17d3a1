// manifest.json: what an image is: the versions inside it, the sha256 of
// every output, and the file list of rootfs.sqsh. Scripts and the upgrade
// path read it; the tests check the image against it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ImageComponents } from "../machinery/components.js";
import type { Compression } from "./initramfs.js";
import type { Kernel } from "./kernel.js";
import type { PlanEntry } from "./plan.js";

export interface ImageFile {
  path: string;
  type: "file" | "dir" | "link";
  mode?: number;
  size?: number;
  sha256?: string;
  target?: string;
}

export interface ImageManifest {
  schema: 1;
  kiln: string;
  versions: { kernel: string; kernelPackage: string; node: string; containerd: string; runc: string; kubelet: string | null; kubernetes: string | null; kiln: string };
  initramfsCompression: Compression;
  /** sha256 of each output file in the image directory. */
  sha256: Record<string, string>;
  /** Every entry of rootfs.sqsh, sorted by path. */
  rootfs: ImageFile[];
}

/** The outputs the manifest checksums (manifest.json itself excluded). */
export const IMAGE_OUTPUTS = ["kernel", "initramfs", "cmdline", "rootfs.sqsh"];

export interface ManifestInput {
  outDir: string;
  kernel: Kernel;
  version: string;
  entries: PlanEntry[];
  /** The materialized rootfs tree (files hashed from here). */
  tree: string;
  /** The Kubernetes version and programs, read when the image was built. */
  components: ImageComponents;
  compress: Compression;
}

export function imageManifest(i: ManifestInput): ImageManifest {
  const tool = (file: string, args: string[]) => probe(() => execFileSync(join(i.tree, file), args, { encoding: "utf8", env: {}, stdio: ["ignore", "pipe", "pipe"] }));
  return {
    schema: 1,
    kiln: i.version,
    versions: {
      kernel: i.kernel.version,
      kernelPackage: `${i.kernel.package} ${i.kernel.packageVersion}`,
      node: tool("usr/bin/node", ["--version"]),
      containerd: tool("usr/bin/containerd", ["--version"]),
      runc: tool("usr/bin/runc", ["--version"]),
      kubelet: i.components.kubernetesPrograms.includes("kubelet") ? i.components.kubernetes : null,
      kubernetes: i.components.kubernetes,
      kiln: i.version,
    },
    initramfsCompression: i.compress,
    sha256: Object.fromEntries(IMAGE_OUTPUTS.map((f) => [f, sha256File(join(i.outDir, f))])),
    rootfs: i.entries.map((e) => imageFile(e, i.tree)),
  };
}

function imageFile(e: PlanEntry, tree: string): ImageFile {
  if (e.kind === "dir") return { path: e.path, type: "dir", mode: e.mode };
  if (e.kind === "link") return { path: e.path, type: "link", target: e.target };
  const p = join(tree, e.path);
  return { path: e.path, type: "file", mode: e.mode, size: statSync(p).size, sha256: sha256File(p) };
}

/** The first line a version command prints, or "unknown" when it cannot run (an --overlay may replace a program with anything). */
function probe(run: () => string): string {
  try {
    return firstLine(run()) || "unknown";
  } catch {
    return "unknown";
  }
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function firstLine(s: string): string {
  return s.split("\n")[0]?.trim() ?? "";
}
