// A machine config over the API's size limit is refused here, before it is
// sent, in the words machined would use.
import { maxConfigBytes, tooLargeMessage } from "../machinery/api-limits.js";
import { CliError } from "./errors.js";

/** `data` if it fits the machine's config limit, else a CliError for `what` naming its size and the limit. */
export function withinConfigLimit(what: string, data: Uint8Array): Uint8Array {
  if (data.length <= maxConfigBytes) return data;
  const reason = `${tooLargeMessage("the machine config", data.length, maxConfigBytes)} (256 KiB); the machine would refuse it`;
  throw new CliError(what, reason);
}
