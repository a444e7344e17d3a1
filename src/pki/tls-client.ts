// How kilnctl dials apid over TLS 1.3: verifying the server against the
// machine CA and the address it was dialled at, presenting a client
// certificate (mTLS); or, in maintenance mode, trusting a server certificate
// pinned by its fingerprint, or any (--insecure).
import { isIP } from "node:net";
import { checkServerIdentity, connect, createSecureContext, type ConnectionOptions, type PeerCertificate } from "node:tls";
import { type ChannelCredentials, type ChannelOptions, credentials } from "@grpc/grpc-js";
import type { CertAndKey } from "./certs.js";
import { fingerprint } from "./fingerprint.js";
import { pemEncode } from "./pem.js";

/** How the client decides to trust the server. */
export type ServerTrust =
  /** Its certificate chains to `ca` (PEM) and names the host dialled. */
  | { t: "ca"; ca: string }
  /** Its certificate's SHA-256 fingerprint is `fingerprint` (as fingerprint() prints it). */
  | { t: "pinned"; fingerprint: string }
  /** Anything: encryption without authentication. */
  | { t: "any" };

export interface ClientTls {
  /** The host dialled: an IP address or DNS name, checked against the certificate's SANs. */
  host: string;
  trust: ServerTrust;
  /** The client certificate and key to present (mTLS). */
  identity?: CertAndKey;
}

/** SNI sent when dialling an IP address (RFC 6066 forbids IPs there); the certificate is still checked against the IP. */
const ipServerName = "kiln-apid";

/**
 * Connects once to check the server and waits for its first bytes (apid, an
 * HTTP/2 server, sends SETTINGS at once): in TLS 1.3 a server refuses the
 * client's certificate only after the client has finished its handshake.
 * Resolves with the server's certificate (PEM); rejects with why not.
 */
export function probeServer(tls: ClientTls, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const unchecked = tls.trust.t === "pinned" ? { ...tls, trust: { t: "any" as const } } : tls;
    const sock = connect({ ...socketOptions(unchecked), port, ALPNProtocols: ["h2"], timeout: timeoutMs });
    let peer = "";
    const settle = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(peer);
    };
    sock.once("secureConnect", () => {
      peer = pemEncode("CERTIFICATE", sock.getPeerCertificate().raw);
      const problem = tls.trust.t === "pinned" ? fingerprintProblem(peer, tls.trust.fingerprint) : undefined;
      if (problem) settle(problem);
    });
    sock.once("data", () => settle());
    sock.once("end", () => settle(Object.assign(new Error("the server closed the connection after the TLS handshake"), { code: "ERR_KILN_CLOSED" })));
    sock.once("timeout", () => settle(Object.assign(new Error(`no answer within ${timeoutMs}ms`), { code: "ETIMEDOUT" })));
    sock.once("error", settle);
  });
}

/** grpc-js credentials and channel options for `tls`; `peer` is the certificate a probe saw (needed when pinned). */
export function grpcCredentials(tls: ClientTls, peer?: string): { credentials: ChannelCredentials; options: ChannelOptions } {
  const opts = socketOptions(tls, peer);
  const verify = { checkServerIdentity: opts.checkServerIdentity!, rejectUnauthorized: opts.rejectUnauthorized! };
  const options: ChannelOptions = isIP(tls.host) ? { "grpc.ssl_target_name_override": ipServerName } : {};
  return { credentials: credentials.createFromSecureContext(opts.secureContext!, verify), options };
}

/**
 * tls.connect options for `tls`: TLS 1.3 only, the trust rule as secure
 * context and checks. A pinned certificate (`peer`, seen by a probe) becomes
 * the only CA, and its fingerprint is checked again on every connection.
 */
function socketOptions(tls: ClientTls, peer?: string): ConnectionOptions {
  const { trust, identity, host } = tls;
  if (trust.t === "pinned" && !peer) throw new Error("a pinned server certificate must be probed first");
  const ca = trust.t === "ca" ? trust.ca : trust.t === "pinned" ? peer : undefined;
  const secureContext = createSecureContext({ minVersion: "TLSv1.3", ...(ca ? { ca } : {}), ...(identity ? { cert: identity.crt, key: identity.key } : {}) });
  const base = { host, servername: isIP(host) ? ipServerName : host, secureContext };
  if (trust.t === "ca") return { ...base, rejectUnauthorized: true, checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
  if (trust.t === "pinned") return { ...base, rejectUnauthorized: true, checkServerIdentity: pinnedCheck(trust.fingerprint) };
  return { ...base, rejectUnauthorized: false, checkServerIdentity: () => undefined };
}

/** A server identity check that accepts only the certificate with fingerprint `expected`. */
function pinnedCheck(expected: string): (name: string, cert: PeerCertificate) => Error | undefined {
  return (_name, cert) => fingerprintProblem(pemEncode("CERTIFICATE", cert.raw), expected);
}

/** The error when `pem`'s fingerprint is not `expected`. */
function fingerprintProblem(pem: string, expected: string): Error | undefined {
  const actual = fingerprint(pem);
  if (actual === expected) return undefined;
  return Object.assign(new Error(`server certificate fingerprint ${actual} does not match --cert-fingerprint ${expected}`), { code: "ERR_KILN_FINGERPRINT" });
}
