// A status message has one size limit, applied where errors become statuses:
// grpc-js sends it as a header, and a header past the peer's limit never
// arrives, so the caller would wait out its deadline instead.

/** The most bytes of a status message a caller gets; the rest is cut with a marker. */
export const maxStatusBytes = 4096;

/** The marker that ends a cut status message. */
export const truncatedMarker = "… (truncated)";

/** `message` cut to at most `max` UTF-8 bytes, ending with the marker when cut. */
export function truncateStatus(message: string, max = maxStatusBytes): string {
  const bytes = Buffer.from(message, "utf8");
  if (bytes.length <= max) return message;
  const keep = max - Buffer.byteLength(truncatedMarker);
  // Decoding a cut multibyte sequence gives U+FFFD; drop it rather than send half a character.
  return bytes.subarray(0, keep).toString("utf8").replace(/\uFFFD$/, "") + truncatedMarker;
}
