// The client certificates a machine no longer accepts
// (machine.api.deniedCertificates): each named by its SHA-256 fingerprint or
// its serial number, in hex, colons allowed, either case. Normalised to
// "sha256:<64 hex>" or "serial:<hex, no leading zeros>", one a line in the
// file machined writes for apid (machinery/apid.ts apidTlsFiles.denied).
import { fingerprint } from "./fingerprint.js";

/** An entry as written in the config, normalised, or why it names no certificate. */
export function parseDeniedEntry(text: string): { value: string } | { error: string } {
  const hex = text.trim().replace(/^(sha256|serial):/i, "").replace(/:/g, "").toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return { value: `sha256:${hex}` };
  // A serial is at most 20 octets (RFC 5280 4.1.2.2), so never 64 digits.
  if (/^[0-9a-f]{1,40}$/.test(hex)) return { value: `serial:${hex.replace(/^0+(?=.)/, "")}` };
  return { error: `expected a client certificate's SHA-256 fingerprint (64 hex digits) or serial number (1 to 40 hex digits), colons allowed, got "${text}"` };
}

/** The names a certificate may be denied by: its fingerprint and its serial, normalised. */
export function certificateNames(cert: { raw: Uint8Array; serialNumber: string }): string[] {
  return [`sha256:${fingerprint(cert.raw)}`, `serial:${cert.serialNumber.replace(/:/g, "").toLowerCase().replace(/^0+(?=.)/, "")}`];
}

/** The file apid reads: the config's entries normalised, one a line, no duplicates. */
export function deniedFileText(entries: readonly string[]): string {
  const names = entries.map(parseDeniedEntry).flatMap((p) => ("value" in p ? [p.value] : []));
  return [...new Set(names)].map((n) => `${n}\n`).join("");
}
