// A client certificate through the API: a fresh key, a PKCS #10 request for
// the subject, a CertificateSigningRequest for signer
// kubernetes.io/kube-apiserver-client posted with the caller's credential,
// then waiting (polling) until it is issued, or denied or failed, which throws.
import { setTimeout as sleep } from "node:timers/promises";
import { exportPrivateKey, generateKeyPair, signingAlgorithm } from "../../pki/keys.js";
import { pemEncode } from "../../pki/pem.js";
import { x509 } from "../../pki/x509.js";
import type { KubeClient } from "../../machinery/kube-client.js";
import { type CertificateSigningRequest, csrPath } from "./csr-approver.js";

export interface ClientCsrOptions {
  /** The certificate's CN: the user it authenticates as. */
  cn: string;
  /** metadata.generateName of the CSR, e.g. "kube-proxy-node-1-". */
  namePrefix: string;
  /** spec.expirationSeconds: the lifetime asked of the signer (it may give less). */
  expirationSeconds?: number;
  /** Between polls; default 2 s. */
  pollMs?: number;
  /** Told the CSR's name once it is posted, while it waits for approval. */
  onPosted?: (name: string) => void;
}

/** The PEM request, the private key, and the CSR object that carries them. */
export async function clientCsr(o: ClientCsrOptions): Promise<{ csr: CertificateSigningRequest & { metadata: { generateName: string } }; key: string }> {
  const keys = await generateKeyPair();
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [o.cn] }], keys, signingAlgorithm });
  const pem = pemEncode("CERTIFICATE REQUEST", new Uint8Array(req.rawData));
  const csr = {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { generateName: o.namePrefix },
    spec: {
      request: Buffer.from(pem).toString("base64"),
      signerName: "kubernetes.io/kube-apiserver-client",
      usages: ["digital signature", "key encipherment", "client auth"],
      ...(o.expirationSeconds ? { expirationSeconds: o.expirationSeconds } : {}),
    },
  };
  return { csr, key: await exportPrivateKey(keys.privateKey) };
}

/** Requests a client certificate for `o.cn` and waits for it; resolves to the certificate (PEM) and its key (PKCS #8 PEM). */
export async function requestClientCertificate(client: KubeClient, o: ClientCsrOptions, signal: AbortSignal): Promise<{ cert: string; key: string; name: string }> {
  const { csr, key } = await clientCsr(o);
  const created = await client.create(csrPath, csr);
  const name = created.t === "created" ? created.object.metadata?.name : undefined;
  if (!name) throw new Error(`creating a CSR for ${o.cn}: the API returned no name`);
  o.onPosted?.(name);
  for (;;) {
    const got = await client.get<CertificateSigningRequest>(`${csrPath}/${name}`);
    const cert = got.status?.certificate;
    if (cert) return { cert: Buffer.from(cert, "base64").toString("utf8"), key, name };
    const refused = (got.status?.conditions ?? []).find((c) => c.type === "Denied" || c.type === "Failed");
    if (refused) throw new Error(`CSR ${name} (${o.cn}): ${refused.type}${refused.message ? `: ${refused.message}` : ""}`);
    await sleep(o.pollMs ?? 2000, undefined, { signal });
  }
}
