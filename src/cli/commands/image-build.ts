// `kilnctl image build [--out DIR] [--kubernetes DIR | --kubelet PATH] [--image-cache FILE…] [--version V] [--compress zstd|xz] [--overlay DIR]`:
// the bootable image (kernel, initramfs, cmdline, rootfs.sqsh, manifest.json),
// disk.raw and the upgrade bundle kiln-upgrade.tar.
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import type { CliDeps } from "../deps.js";
import { createImageImportCommand } from "./image-import.js";
import { toCliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { createSession } from "../session.js";
import type { Column } from "../table.js";
import { formatBytes } from "../bytes.js";

interface BuildFlags {
  out: string;
  kubelet?: string;
  kubernetes?: string;
  imageCache?: string[];
  version?: string;
  compress: "zstd" | "xz";
  overlay?: string;
}

/** The JSON/YAML shape of `image build`. */
export interface ImageBuildRecord {
  out: string;
  version: string;
  kernel: string;
  /** The Kubernetes version inside, or null. */
  kubernetes: string | null;
  initramfsBytes: number;
  rootfsBytes: number;
  /** kiln-upgrade.tar's size. */
  bundleBytes: number;
  seconds: number;
  steps: Record<string, number>;
}

const columns: Column<ImageBuildRecord>[] = [
  { header: "OUT", value: (r) => r.out },
  { header: "VERSION", value: (r) => r.version },
  { header: "KERNEL", value: (r) => r.kernel },
  { header: "KUBERNETES", value: (r) => r.kubernetes ?? "-" },
  { header: "INITRAMFS", value: (r) => formatBytes(r.initramfsBytes) },
  { header: "ROOTFS", value: (r) => formatBytes(r.rootfsBytes) },
  { header: "BUNDLE", value: (r) => formatBytes(r.bundleBytes) },
  { header: "TIME", value: (r) => `${r.seconds.toFixed(1)} s` },
];

export function createImageCommand(deps: CliDeps): Command {
  const build = new Command("build")
    .description("build the bootable image: kernel, initramfs, cmdline, rootfs.sqsh, manifest.json, disk.raw, kiln-upgrade.tar")
    .option("--out <dir>", "output directory", "_out/image")
    .option("--kubernetes <dir>", "Kubernetes programs (kubelet, kube-proxy, kube-apiserver, kube-controller-manager, kube-scheduler) to include; `bash hack/kubernetes.sh` builds them and prints the directory")
    .option("--kubelet <path>", "a kubelet binary to include as /usr/bin/kubelet (only the kubelet)")
    .option("--image-cache <files...>", "OCI image archives (*.tar) to bake in; machined imports them into containerd (k8s.io) before the kubelet starts")
    .option("--version <version>", "the version the image reports (default: package.json's)")
    .addOption(new Option("--compress <how>", "initramfs compression").choices(["zstd", "xz"]).default("zstd"))
    .option("--overlay <dir>", "a directory laid over the rootfs after everything else (DIR/etc/x becomes /etc/x)");
  addGlobalOptions(build, { connect: false }).action(async (f: BuildFlags, c: Command) => {
    const s = createSession(c, deps);
    const { buildImage } = await import("../../image/build-image.js");
    const out = resolve(f.out);
    const t0 = performance.now();
    let result: Awaited<ReturnType<typeof buildImage>>;
    try {
      result = await buildImage({
        outDir: out,
        compress: f.compress,
        ...(f.kubelet ? { kubelet: resolve(f.kubelet) } : {}),
        ...(f.kubernetes ? { kubernetes: resolve(f.kubernetes) } : {}),
        ...(f.imageCache ? { imageCache: f.imageCache.map((x) => resolve(x)) } : {}),
        ...(f.version ? { version: f.version } : {}),
        ...(f.overlay ? { overlay: resolve(f.overlay) } : {}),
        onProgress: (step, i, n) => s.progress(`[${i + 1}/${n}] ${step}`),
      });
    } catch (err) {
      throw toCliError(err, { what: "building the image" });
    }
    const rec: ImageBuildRecord = {
      out,
      version: result.manifest.kiln,
      kernel: result.manifest.versions.kernel,
      kubernetes: result.manifest.versions.kubernetes,
      initramfsBytes: statSync(join(out, "initramfs")).size,
      rootfsBytes: statSync(join(out, "rootfs.sqsh")).size,
      bundleBytes: statSync(join(out, "kiln-upgrade.tar")).size,
      seconds: (performance.now() - t0) / 1000,
      steps: result.timings,
    };
    const { recordLastImage } = await import("../../image/last-image.js");
    try {
      recordLastImage({ out, version: rec.version, builtAt: deps.now().toISOString() }, deps.io.env);
    } catch (err) {
      s.warn(`could not record ${out} as the last image built (cluster create would need --image): ${(err as Error).message}`);
    }
    s.print(renderOne(s.format, rec, columns));
  });
  return new Command("image").description("build kiln's bootable image; import container images into a machine").addCommand(build).addCommand(createImageImportCommand(deps));
}
