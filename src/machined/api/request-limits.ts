// The size limits of request fields, checked where requests are mapped, so a
// request too large for the machine is refused at once, naming its limit.
// docs/api.md ("Limits") lists them.
import { ApiError, Code } from "../../grpc/errors.js";

/** The most bytes of a service id (ids are short names like "kubelet"). */
export const maxServiceIdBytes = 128;
/** The most bytes of a file path in a request (Read's path, List's root). */
export const maxPathBytes = 1024;
/** The most bytes of a containerd namespace. */
export const maxNamespaceBytes = 128;
/** The most bytes of a machine config (ApplyConfiguration's data). */
export const maxConfigBytes = 256 * 1024;

/** `value` if its UTF-8 size is at most `max`, else INVALID_ARGUMENT naming the field, its size and the limit. */
export function withinLimit(field: string, value: string, max: number): string {
  const size = Buffer.byteLength(value, "utf8");
  if (size > max) throw tooLarge(field, size, max);
  return value;
}

/** INVALID_ARGUMENT: `field` is `size` bytes, over its limit of `max`. */
export function tooLarge(field: string, size: number, max: number): ApiError {
  return new ApiError(Code.INVALID_ARGUMENT, `${field} is ${size} bytes; the limit is ${max} bytes`);
}
