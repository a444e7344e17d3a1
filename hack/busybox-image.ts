// A tiny OCI image for pods, made from Debian's static busybox
// (busybox-static) with kiln's own OCI writer: no registry, no internet.
// Its one program is /bin/busybox; pods run `/bin/busybox sh -c …`. The demo
// imports it with `kilnctl image import`, and so does the vm tier.
//
//   npx tsx hack/busybox-image.ts OUT.tar
import { existsSync, writeFileSync } from "node:fs";
import { ociImageArchive } from "../src/image/oci-image.js";

export const busyboxImage = "kiln.local/busybox:test";

/** Writes the image's archive to `path`; throws naming the package when busybox is missing. */
export async function writeBusyboxArchive(path: string): Promise<string> {
  const source = "/bin/busybox";
  if (!existsSync(source)) throw new Error(`${source} is missing: apt-get install busybox-static (hack/setup.sh installs it)`);
  const { archive } = await ociImageArchive({ name: busyboxImage, files: [{ path: "/bin/busybox", source, mode: 0o755 }], entrypoint: ["/bin/busybox"], epoch: 0 });
  writeFileSync(path, archive);
  return path;
}

if (process.argv[1]?.endsWith("busybox-image.ts")) {
  const out = process.argv[2];
  if (!out) throw new Error("usage: npx tsx hack/busybox-image.ts OUT.tar");
  await writeBusyboxArchive(out);
  console.log(`${busyboxImage} in ${out}`);
}
