// Who is calling: the client certificate TLS verified, read once per
// connection (peer.ts), and the role each call runs with.
import type { PeerCertificate } from "node:tls";
import type { Metadata } from "@grpc/grpc-js";
import { highestRole, impersonator, isRole, type Role, roleHeader, roles } from "./roles.js";

/** ExtendedKeyUsage id-kp-clientAuth. */
export const clientAuthOid = "1.3.6.1.5.5.7.3.2";

/** A verified client: its certificate's Organization values. */
export interface Identity {
  subject: string;
  organizations: string[];
}

/** The role a call runs with, and whether another apid named it for its caller. */
export interface Caller {
  role: Role;
  impersonated: boolean;
}

export type Result<T> = { value: T } | { error: string };

/**
 * The client behind a TLS peer certificate. TLS has already verified the
 * chain and validity; this checks again that it is there, is for client
 * authentication and is within its validity period (defence in depth). The
 * certificate is read once per certificate object (peer.ts keeps one a
 * connection); the validity period is checked against `now` every time.
 */
export function identityOf(cert: PeerCertificate | undefined, now = new Date()): Result<Identity> {
  if (!cert?.raw || cert.raw.length === 0) return { error: "no client certificate was presented" };
  const read = readCertificate(cert);
  if ("error" in read) return read;
  if (now.getTime() < read.notBefore || now.getTime() > read.notAfter) return { error: `the client certificate is valid only from ${cert.valid_from} to ${cert.valid_to}` };
  return { value: read.identity };
}

type ReadCertificate = { identity: Identity; notBefore: number; notAfter: number } | { error: string };
const readCertificates = new WeakMap<PeerCertificate, ReadCertificate>();

/** The parts of a certificate identityOf checks, parsed once per certificate object. */
function readCertificate(cert: PeerCertificate): ReadCertificate {
  let read = readCertificates.get(cert);
  if (!read) {
    read = (cert.ext_key_usage ?? []).includes(clientAuthOid)
      ? { identity: { subject: valuesOf(cert.subject?.CN).join(","), organizations: valuesOf(cert.subject?.O) }, notBefore: Date.parse(cert.valid_from), notAfter: Date.parse(cert.valid_to) }
      : { error: "the client certificate is not for client authentication (ExtKeyUsage clientAuth)" };
    readCertificates.set(cert, read);
  }
  return read;
}

/** A subject attribute's values: Node gives one as a string, several as an array. */
function valuesOf(v: string | string[] | undefined): string[] {
  // @types/node says string; at run time several values come as an array.
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The role a call runs with: the certificate's, or for an impersonator the `kiln-role` it sends. */
export function callerOf(id: Identity, metadata: Metadata): Result<Caller> {
  const named = metadata.get(roleHeader).map(String);
  if (id.organizations.includes(impersonator) && named.length > 0) return impersonated(named);
  const role = highestRole(id.organizations);
  if (role) return { value: { role, impersonated: false } };
  return { error: `the client certificate carries no role (Organization ${roles.join(", ")}), got [${id.organizations.join(", ")}]` };
}

/** The one valid role an impersonating apid names. */
function impersonated(named: string[]): Result<Caller> {
  const [role] = named;
  if (named.length !== 1 || role === undefined || !isRole(role)) return { error: `${roleHeader}: expected one of ${roles.join(", ")}, got [${named.join(", ")}]` };
  return { value: { role, impersonated: true } };
}
