// Every event is bounded in bytes before the bus keeps it: each text field is
// cut, and a list (a config's errors or warnings) keeps its first items and
// says how many more there were. One event of 4.7 MB once made `events`
// fail for every caller (grpc-js refuses a message over 4 MiB).
import type { EventPayload } from "./events.js";

/** The most UTF-8 bytes of one text field of an event, or of one item of a list. */
export const maxEventTextBytes = 1024;
/** The most items of a list in an event; the rest become "… and K more". */
export const maxEventListItems = 20;
/** What one event may weigh: every field and list item at its limit stays below this. */
export const maxEventBytes = 64 * 1024;

/** The marker that ends a cut text field. */
const cutMarker = "… (truncated)";

/** `payload` with every text field and list within its limits. */
export function boundPayload(payload: EventPayload): EventPayload {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) out[key] = boundValue(value);
  return out as EventPayload;
}

/** A text cut to its limit, a list of texts cut to its item count; anything else as it is. */
function boundValue(value: unknown): unknown {
  if (typeof value === "string") return cutText(value);
  if (Array.isArray(value)) return boundList(value.map(String));
  return value;
}

/** The first `maxEventListItems` items, each cut, then "… and K more" for the rest. */
function boundList(items: string[]): string[] {
  if (items.length <= maxEventListItems) return items.map(cutText);
  const kept = items.slice(0, maxEventListItems).map(cutText);
  return [...kept, `… and ${items.length - maxEventListItems} more`];
}

/** `text` cut to `maxEventTextBytes` UTF-8 bytes, ending with a marker when cut. */
export function cutText(text: string): string {
  if (text.length * 3 <= maxEventTextBytes || Buffer.byteLength(text) <= maxEventTextBytes) return text;
  const keep = maxEventTextBytes - Buffer.byteLength(cutMarker);
  return Buffer.from(text.slice(0, maxEventTextBytes)).subarray(0, keep).toString("utf8").replace(/\uFFFD$/, "") + cutMarker;
}

/** The bytes an event's text takes, what the ring's byte budget counts (numbers and flags are noise). */
export function payloadBytes(payload: EventPayload): number {
  let bytes = 0;
  for (const value of Object.values(payload)) {
    if (typeof value === "string") bytes += Buffer.byteLength(value);
    else if (Array.isArray(value)) for (const item of value) bytes += Buffer.byteLength(String(item));
  }
  return bytes;
}
