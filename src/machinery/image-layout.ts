// The image's fixed layout: merged /usr (like the Debian host it is built
// from), so /lib, /lib64 and /bin are links and every file lives under /usr.
// Where kiln's own files are in it: imagePaths in paths.ts.
import { posix } from "node:path";

/** Top-level links of the merged-/usr layout: path in the image → link target. */
export const mergedUsrLinks: Record<string, string> = {
  "/bin": "usr/bin",
  "/lib": "usr/lib",
  "/lib64": "usr/lib64",
};

/** The real path of `p` inside the image, with the merged-/usr links resolved. */
export function canonicalPath(p: string): string {
  const norm = posix.normalize(p);
  for (const [link, target] of Object.entries(mergedUsrLinks)) {
    if (norm === link || norm.startsWith(`${link}/`)) return `/${target}${norm.slice(link.length)}`;
  }
  return norm;
}
