// Request fields checked against their size limits (src/machinery/api-limits.ts)
// where requests are mapped, so a request too large for the machine is
// refused at once with INVALID_ARGUMENT, naming its limit.
import { ApiError, Code } from "../../grpc/errors.js";
import { tooLargeMessage } from "../../machinery/api-limits.js";

/** `value` if its UTF-8 size is at most `max`, else INVALID_ARGUMENT naming the field, its size and the limit. */
export function withinLimit(field: string, value: string, max: number): string {
  const size = Buffer.byteLength(value, "utf8");
  if (size > max) throw tooLarge(field, size, max);
  return value;
}

/** INVALID_ARGUMENT: `field` is `size` bytes, over its limit of `max`. */
export function tooLarge(field: string, size: number, max: number): ApiError {
  return new ApiError(Code.INVALID_ARGUMENT, tooLargeMessage(field, size, max));
}
