// The client certificates apid refuses (machine.api.deniedCertificates): a
// file in its TLS directory that machined replaces when the config changes.
// It is looked at on every call (one stat; read again only when it changed),
// so a revocation holds from the next call on, without a restart, also on a
// connection opened before it: only the certificate's own names are kept.
import type { PeerCertificate } from "node:tls";
import { certificateNames } from "../pki/denied-certificates.js";
import { watchedFile } from "./watched-file.js";

export interface DeniedCertificates {
  /** Why `cert` is refused, or undefined when it is not denied. */
  check(cert: PeerCertificate): string | undefined;
}

/** The deny list in `file`; a missing file denies nothing. */
export function deniedCertificatesFile(file: string): DeniedCertificates {
  const current = watchedFile(file, (text) => new Set(text?.split("\n").filter(Boolean) ?? []));
  return { check: (cert) => deniedBy(current(), cert) };
}

/** A fixed deny list (tests, or entries already normalised). */
export function deniedCertificatesOf(entries: readonly string[]): DeniedCertificates {
  const names = new Set(entries);
  return { check: (cert) => deniedBy(names, cert) };
}

const namesOf = new WeakMap<PeerCertificate, string[]>();

/** The names `cert` may be denied by, computed once per certificate object. */
function ownNames(cert: PeerCertificate): string[] {
  const known = namesOf.get(cert);
  if (known) return known;
  const names = certificateNames(cert);
  namesOf.set(cert, names);
  return names;
}

/** The refusal when one of the certificate's names is on the list. */
function deniedBy(names: Set<string>, cert: PeerCertificate): string | undefined {
  if (names.size === 0 || !cert.raw) return undefined;
  const hit = ownNames(cert).find((n) => names.has(n));
  return hit && `the client certificate (${hit}) is denied by this machine's machine.api.deniedCertificates: ask an admin for a new one`;
}
