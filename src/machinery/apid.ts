// What machined and apid agree on: apid's port, and the files machined
// writes into apid's TLS directory (src/machined/apid-tls.ts) for apid to
// serve with (src/apid/tls-credentials.ts). The CLI and the provisioners
// dial the same port.

/** The port apid listens on. */
export const apidPort = 50000;

/** The trust port: control-plane apids sign other machines' server certificates there (TrustService, src/apid/trust.ts). */
export const trustPort = 50001;

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
} as const;

/**
 * Metadata apid sets on every call it forwards to machined: the mode the
 * call came through ("maintenance" or "mtls"). apid always overwrites it;
 * machined believes it only on apid's socket.
 */
export const apidModeHeader = "kiln-apid-mode";
