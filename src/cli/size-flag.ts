// A size flag (--disk 4G): bytes, or a usage error naming the flag.
import { parseSize } from "../provision/qemu/disk.js";
import { usageError } from "./errors.js";

/** "4G", "512M" → bytes; anything else is a usage error that names `flag`. */
export function sizeFlag(flag: string, text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined) throw usageError(flag, `expected a size such as 4G or 512M, got ${JSON.stringify(text)}`);
  return bytes;
}
