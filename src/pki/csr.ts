// Certificate signing requests (PKCS #10): a machine without the machine CA's
// key makes one for a fresh key and has a control plane sign it
// (src/machined/trust/); the control plane reads it back here, refusing
// anything but a well-formed, self-signed ECDSA P-256 request for a server.
import { isIP } from "node:net";
import { sanExtension } from "./certs.js";
import { exportPrivateKey, generateKeyPair, signingAlgorithm } from "./keys.js";
import { pemDecode, pemEncode } from "./pem.js";
import type * as X509 from "@peculiar/x509";
import { x509 } from "./x509.js";

/** A request (PEM) and the private key it was made for (PKCS #8 PEM), which never leaves the machine. */
export interface CsrAndKey {
  csr: string;
  key: string;
}

/** What a server certificate may name: its common name and its DNS names and IP addresses. */
export interface ServerNames {
  commonName: string;
  sans: string[];
}

/** The most a request may carry: its size in bytes (PEM) and its names. */
export const csrLimits = { bytes: 16_384, sans: 64, nameLength: 253 } as const;

/** A fresh ECDSA P-256 key and a request for a server certificate naming `names`. */
export async function createServerCsr(names: ServerNames): Promise<CsrAndKey> {
  const keys = await generateKeyPair();
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [names.commonName] }], keys, signingAlgorithm, extensions: [sanExtension(names.sans)] });
  return { csr: pemEncode("CERTIFICATE REQUEST", new Uint8Array(req.rawData)), key: await exportPrivateKey(keys.privateKey) };
}

/** A request read and checked: its key, and the names it asks for. */
export interface ReadCsr extends ServerNames {
  publicKey: X509.PublicKey;
}

/** Reads a PEM request, verifying its signature; the error names what is wrong with it. */
export async function readServerCsr(pem: string): Promise<ReadCsr> {
  if (Buffer.byteLength(pem) > csrLimits.bytes) throw new Error(`the certificate request is ${Buffer.byteLength(pem)} bytes; at most ${csrLimits.bytes} are read`);
  const req = parse(pem);
  const key = req.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (key.name !== "ECDSA" || key.namedCurve !== "P-256") throw new Error(`the certificate request's key is ${key.name ?? "unknown"} ${key.namedCurve ?? ""}; expected ECDSA P-256`.replace(" ;", ";"));
  if (!(await req.verify().catch(() => false))) throw new Error("the certificate request's signature does not verify with its own key");
  const commonName = commonNameOf(req);
  return { commonName, sans: sansOf(req), publicKey: req.publicKey };
}

/** The request in a PEM block labelled CERTIFICATE REQUEST. */
function parse(pem: string): X509.Pkcs10CertificateRequest {
  let block: ReturnType<typeof pemDecode>;
  try {
    block = pemDecode(pem);
  } catch (err) {
    throw new Error("the certificate request is not PEM", { cause: err });
  }
  if (block.label !== "CERTIFICATE REQUEST") throw new Error(`expected a PEM block labelled CERTIFICATE REQUEST, got ${block.label}`);
  try {
    return new x509.Pkcs10CertificateRequest(block.der);
  } catch (err) {
    throw new Error("the certificate request is not a PKCS #10 request", { cause: err });
  }
}

/** The one common name of the subject, a host name. */
function commonNameOf(req: X509.Pkcs10CertificateRequest): string {
  const names = req.subjectName.getField("CN");
  if (names.length !== 1) throw new Error(`the certificate request names ${names.length} common names; expected one, the machine's host name`);
  const cn = names[0]!;
  if (!isHostName(cn)) throw new Error(`the certificate request's common name ${JSON.stringify(cn.slice(0, 80))} is not a host name`);
  return cn;
}

/** The DNS names and IP addresses the request asks for; any other kind of name is refused. */
function sansOf(req: X509.Pkcs10CertificateRequest): string[] {
  const ext = req.extensions.filter((e) => e instanceof x509.SubjectAlternativeNameExtension);
  if (ext.length > 1) throw new Error("the certificate request has more than one subject alternative name extension");
  const items = ext[0]?.names.items ?? [];
  if (items.length > csrLimits.sans) throw new Error(`the certificate request names ${items.length} alternative names; at most ${csrLimits.sans}`);
  return items.map((n) => {
    if (n.type === "ip" && isIP(n.value)) return n.value;
    if (n.type === "dns" && isHostName(n.value)) return n.value;
    throw new Error(`the certificate request names ${n.type} ${JSON.stringify(n.value.slice(0, 80))}; only DNS names and IP addresses are signed`);
  });
}

/** A DNS name: labels of letters, digits and hyphens (underscores tolerated), dot-separated, at most 253 characters. */
function isHostName(s: string): boolean {
  return s.length > 0 && s.length <= csrLimits.nameLength && /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/.test(s);
}
