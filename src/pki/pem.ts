// PEM text (RFC 7468) to and from DER bytes, and the base64-of-PEM form the
// machine config and kilnconfig embed certificates and keys in.

/** A PEM block: its label (e.g. "CERTIFICATE") and DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

/** DER bytes as a PEM block with `label`, lines of 64 characters. */
export function pemEncode(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** The first PEM block in `text`; throws when there is none. */
export function pemDecode(text: string): PemBlock {
  const m = blockPattern.exec(text);
  if (!m) throw new Error("expected a PEM block (-----BEGIN …-----)");
  return { label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64")) };
}

/** PEM text as one base64 line, as the machine config and kilnconfig hold it. */
export function encodeBase64Pem(pem: string): string {
  return Buffer.from(pem, "utf8").toString("base64");
}

/** The PEM text inside a base64 line; throws when it is not base64 of a PEM block. */
export function decodeBase64Pem(text: string): string {
  const pem = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64").toString("utf8") : "";
  if (!pem.trimStart().startsWith("-----BEGIN ")) throw new Error("expected base64 of a PEM block (LS0tLS1CRUdJTi…)");
  return pem;
}

/** The DER bytes of a certificate given as PEM text or as DER. */
export function derOf(cert: string | Uint8Array): Uint8Array {
  return typeof cert === "string" ? pemDecode(cert).der : cert;
}
