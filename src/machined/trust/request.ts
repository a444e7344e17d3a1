// A machine whose config holds the machine CA's certificate but not its key
// (a worker, as `kilnctl gen config` writes it) asks a control plane for its
// apid server certificate: a fresh key, a request naming the machine, the
// machine token, sent to the trust port of cluster.controlPlane.endpoint's
// host over TLS that verifies the control plane against the machine CA. What
// comes back is checked before apid serves with it.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { TrustService } from "../../gen/kiln/trust/v1/trust_pb.js";
import { createClient } from "../../grpc/client.js";
import { hostPort } from "../../machinery/endpoint.js";
import { createServerCsr, type ServerNames } from "../../pki/csr.js";
import { grpcCredentials } from "../../pki/tls-client.js";

export interface TrustTarget {
  /** The control plane's host (cluster.controlPlane.endpoint's) and trust port. */
  host: string;
  port: number;
  /** The machine CA's certificate (PEM): the control plane must present a certificate it issued. */
  ca: string;
  token: string;
}

/** A server certificate issued by the control plane, the key it was made for, and the CA (PEM). */
export interface IssuedServerCert {
  crt: string;
  key: string;
  ca: string;
}

/** Asks once; the error says what the control plane answered or why it could not be reached. */
export async function requestServerCert(t: TrustTarget, names: ServerNames, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<IssuedServerCert> {
  const { csr, key } = await createServerCsr(names);
  // As kilnctl dials apid: TLS 1.3, the machine CA only, the certificate checked against the host dialled (an IP too).
  const tls = grpcCredentials({ host: t.host, trust: { t: "ca", ca: t.ca } });
  const client = createClient(TrustService, hostPort(t.host, t.port), tls.credentials, tls.options);
  try {
    const res = await client.certificate({ token: t.token, csr }, { timeoutMs: o.timeoutMs ?? 15_000, ...(o.signal ? { signal: o.signal } : {}) });
    checkIssued(res.certificate, key, t.ca);
    return { crt: res.certificate, key, ca: t.ca };
  } finally {
    client.close();
  }
}

/** Throws unless `crt` is for `key` and signed by `ca`. */
export function checkIssued(crt: string, key: string, ca: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(crt);
  } catch (err) {
    throw new Error("the control plane answered with something that is not a certificate", { cause: err });
  }
  if (!cert.checkPrivateKey(createPrivateKey(key))) throw new Error("the control plane's certificate is not for the key this machine asked with");
  if (!cert.verify(new X509Certificate(ca).publicKey)) throw new Error("the control plane's certificate was not issued by this machine's machine.ca");
}
