// The image's fixed layout: merged /usr (like the Debian host it is built
// from), so /lib, /lib64 and /bin are links and every file lives under /usr.
import { posix } from "node:path";

/** Top-level links of the merged-/usr layout: path in the image → link target. */
export const mergedUsrLinks: Record<string, string> = {
  "/bin": "usr/bin",
  "/lib": "usr/lib",
  "/lib64": "usr/lib64",
};

/** Where bundled JavaScript (machined…) and its native modules live in the image. */
export const kilnLibDir = "/usr/lib/kiln";

/**
 * What a machine booted from kernel + initramfs needs to install itself to a
 * disk: the kernel it runs (the same bytes as the image's `kernel`) and
 * disk.raw's first bytes, up to BOOT-A (MBR boot code, primary GPT, BIOS
 * boot partition, ESP; see disk.ts).
 */
export const installerFiles = {
  diskHead: "/usr/lib/kiln/boot/disk-head.img",
} as const;

/** The real path of `p` inside the image, with the merged-/usr links resolved. */
export function canonicalPath(p: string): string {
  const norm = posix.normalize(p);
  for (const [link, target] of Object.entries(mergedUsrLinks)) {
    if (norm === link || norm.startsWith(`${link}/`)) return `/${target}${norm.slice(link.length)}`;
  }
  return norm;
}
