// What machined and apid agree on: apid's port, and the files machined
// writes into apid's TLS directory (src/machined/apid-tls.ts) for apid to
// serve with (src/apid/tls-credentials.ts). The CLI and the provisioners
// dial the same port.
import { isIP } from "node:net";

/** The port apid listens on. */
export const apidPort = 50000;

/** The trust port: control-plane apids sign other machines' server certificates there (TrustService, src/apid/trust.ts). */
export const trustPort = 50001;

/** Metadata apid sets on a trust call it forwards: the caller's IP address (never copied from the caller). */
export const trustPeerHeader = "kiln-trust-peer";

/**
 * The IP address of a grpc-js server call's peer: "10.0.0.5:4321", or an
 * IPv6 address with its port and no brackets ("fd00::5:4321",
 * "::ffff:10.0.0.5:4321" on a dual-stack socket); IPv4-mapped ones as IPv4.
 */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  const withoutPort = peer.replace(/:\d+$/, "");
  const host = bracketed ? bracketed[1]! : isIP(withoutPort) ? withoutPort : peer;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return (mapped ? mapped[1]! : host).toLowerCase();
}

/** The files of apid's TLS directory. */
export const apidTlsFiles = {
  ca: "ca.crt",
  cert: "server.crt",
  key: "server.key",
  clientCert: "client.crt",
  clientKey: "client.key",
  /** machine.api.deniedCertificates, one normalised entry a line (pki/denied-certificates.ts); rewritten on apply. */
  denied: "denied-certificates",
  /** machine.api.peers, one entry a line, or machinery/peers.ts defaultPeersLine when unset; rewritten on apply. */
  peers: "peers",
  /**
   * Written last, holding the stamp machined gave apid (--tls-stamp): apid may
   * start before its files are written and reads them once this holds its stamp.
   */
  complete: "complete",
} as const;

/**
 * Metadata apid sets on every call it forwards to machined: the mode the
 * call came through ("maintenance" or "mtls"). apid always overwrites it;
 * machined believes it only on apid's socket.
 */
export const apidModeHeader = "kiln-apid-mode";

/** apid's only argument when machined starts it ahead of its first start (src/machined/supervisor/prespawn.ts): its arguments come on stdin. */
export const apidArgsOnStdin = "--args-on-stdin";
