// A control plane signs machine API server certificates for the cluster's
// other machines (workers, whose configs hold the machine CA's certificate
// but not its key): the caller shows machine.token and a certificate signing
// request, and gets a server certificate for the request's key. It carries
// no role: a machine that holds the token can serve the machine API, never
// call it as anyone. And it names only the caller: its host name, the
// address its request came from, and loopback, never this control plane or
// the cluster's endpoint, so a token holder cannot pose as another machine.
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { hostname } from "node:os";
import type { MachineConfig } from "../../config/schema.js";
import { endpointHost } from "../../machinery/endpoint.js";
import { signServerCert } from "../../pki/certs.js";
import { readServerCsr } from "../../pki/csr.js";
import { decodeBase64Pem } from "../../pki/pem.js";
import { forbidden, invalid, refused } from "../errors.js";

/** What a machine sends: the token and its request; and the address it came from, as apid saw it. */
export interface TrustRequest {
  token: string;
  csr: string;
  peer?: string;
}

/** The signed certificate and the CA that verifies it, both PEM. */
export interface TrustAnswer {
  certificate: string;
  ca: string;
}

/** Loopback addresses: every machine answers on them locally. */
const loopback = ["127.0.0.1", "::1"];

/**
 * Signs the request's key for the names of it that are the caller's; refused
 * off a control plane, forbidden for a wrong token or a request naming this
 * control plane. `self` is this machine's host name.
 */
export async function issueForMachine(config: MachineConfig | undefined, req: TrustRequest, self = hostname(), now = new Date()): Promise<TrustAnswer> {
  const ca = issuingCa(config);
  if (!tokensMatch(req.token, config!.machine.token!)) throw forbidden("the machine token does not match this cluster's: set machine.token to the value in the control plane's config");
  const csr = await readServerCsr(req.csr).catch((err: Error) => {
    throw invalid(err.message);
  });
  const endpoint = config!.cluster?.controlPlane?.endpoint;
  const taken = [config!.machine.hostname ?? self, ...(endpoint ? [endpointHost(endpoint)] : [])].map((n) => n.toLowerCase());
  if (taken.includes(csr.commonName.toLowerCase())) {
    throw forbidden(`the certificate request names ${JSON.stringify(csr.commonName)}, this control plane or the cluster's endpoint; a machine's certificate names that machine`);
  }
  if (isIP(csr.commonName)) throw invalid(`the certificate request's common name ${csr.commonName} is an address; it must be the machine's host name`);
  const sans = csr.sans.filter((n) => (isIP(n) ? n === req.peer || loopback.includes(n) : n.toLowerCase() === csr.commonName.toLowerCase() || n === "localhost"));
  return { certificate: await signServerCert(ca, csr.publicKey, { commonName: csr.commonName, sans, now }), ca: ca.crt };
}

/** The machine CA with its key, on a control plane that has a token; refused otherwise, naming what is missing. */
function issuingCa(config: MachineConfig | undefined) {
  if (!config) throw refused("this machine has no config yet (maintenance mode): it issues no certificates");
  const m = config.machine;
  if (m.type !== "controlplane") throw refused("this machine is not a control plane: only control-plane nodes issue machine certificates");
  if (!m.ca?.key) throw refused("this control plane has no machine.ca key to issue certificates with");
  if (!m.token) throw refused("this control plane has no machine.token: it issues no certificates until one is set");
  return { crt: decodeBase64Pem(m.ca.crt), key: decodeBase64Pem(m.ca.key) };
}

/** Compares tokens in time independent of where they differ (hashes first, so lengths do not leak either). */
function tokensMatch(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
