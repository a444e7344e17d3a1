// Certificate fingerprints: SHA-256 of the DER, printed as 64 lowercase hex
// digits; read back with or without colons, in either case.
import { createHash } from "node:crypto";
import { derOf } from "./pem.js";

/** The SHA-256 fingerprint of a certificate (PEM or DER): 64 lowercase hex digits. */
export function fingerprint(cert: string | Uint8Array): string {
  return createHash("sha256").update(derOf(cert)).digest("hex");
}

/** A fingerprint as typed ("AB:CD:…" or "abcd…") in the form fingerprint() prints, or why it is not one. */
export function parseFingerprint(text: string): { value: string } | { error: string } {
  const value = text.trim().replace(/:/g, "").toLowerCase();
  if (/^[0-9a-f]{64}$/.test(value)) return { value };
  return { error: `expected a SHA-256 fingerprint (64 hex digits, colons allowed), got "${text}"` };
}
