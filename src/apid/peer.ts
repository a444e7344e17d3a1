// The client certificate of a call's connection, read once per connection.
// grpc-js's getAuthContext() turns the certificate into a new JS object on
// every call (subject, fingerprints, the DER copied); under TLS 1.3 a
// connection's certificate cannot change (no renegotiation), so apid keeps it
// per HTTP/2 session. Only what is fixed for the connection is kept: the
// validity period, the deny list and the role are still checked every call.
import type { PeerCertificate } from "node:tls";

/** What admission reads from a grpc-js server call. */
export interface AuthContextCall {
  /** grpc-js ≥ 1.12: the TLS peer certificate of the call's connection. */
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

const bySession = new WeakMap<object, PeerCertificate | undefined>();

/** The verified client certificate of `call`'s connection, if one was presented. */
export function peerCertificate(call: AuthContextCall): PeerCertificate | undefined {
  const session = sessionOf(call);
  if (!session) return call.getAuthContext()?.sslPeerCertificate;
  if (bySession.has(session)) return bySession.get(session);
  const cert = call.getAuthContext()?.sslPeerCertificate;
  bySession.set(session, cert);
  return cert;
}

/**
 * The HTTP/2 session (one per TLS connection) under a grpc-js server call, or
 * undefined where this grpc-js does not expose it the way 1.14 does: the
 * handler's call wraps an intercepting call chain whose base holds the stream.
 * A session no longer open is never returned, so nothing is kept for it.
 */
export function sessionOf(call: unknown): object | undefined {
  let c = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && c !== null && typeof c === "object"; depth++) {
    const session = (c as { stream?: { session?: { closed?: boolean; destroyed?: boolean } } }).stream?.session;
    if (session) return session.closed || session.destroyed ? undefined : session;
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}
