// kiln's certificates: CAs, server certificates for apid, client
// certificates carrying roles, and self-signed ones for maintenance mode.
// Every key is ECDSA P-256, every signature ECDSA with SHA-256.
import type { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { clientTtlProblem, maxClientTtlMs } from "./client-ttl.js";
import { exportPrivateKey, generateKeyPair, importPrivateKey, signingAlgorithm } from "./keys.js";
import { pemEncode } from "./pem.js";
import type * as X509 from "@peculiar/x509";
import { x509 } from "./x509.js";

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  crt: string;
  key: string;
}

/** When a certificate is valid: from `now` (less a clock-skew allowance) for `ttlMs`. */
export interface Validity {
  /** Lifetime in milliseconds; each kind of certificate has its default. */
  ttlMs?: number;
  /** The moment of issue; default: the current time. */
  now?: Date;
}

export interface ServerCertOptions extends Validity {
  commonName: string;
  /** DNS names and IP addresses the server answers on; IPs become IP SANs. */
  sans: string[];
}

export interface ClientCertOptions extends Validity {
  /** Each becomes one Organization (O) of the subject, e.g. "os:admin". */
  roles: string[];
  /** Default "kilnctl". */
  commonName?: string;
}

/** A certificate of a cluster component (etcd, the Kubernetes control plane): what it is used for, and for whom. */
export interface ComponentCertOptions extends Validity {
  commonName: string;
  /** Each becomes one Organization (O), e.g. a Kubernetes group. */
  organizations?: string[];
  /** DNS names and IP addresses, for a certificate a server presents. */
  sans?: string[];
  /** serverAuth, clientAuth, or both (etcd's peers are each other's clients). */
  usages: ("server" | "client")[];
}

const hourMs = 3_600_000;
/** Default lifetimes: CAs ten years, server and client certificates one year. */
export const defaultTtlMs = { ca: 87_600 * hourMs, server: 8_760 * hourMs, client: maxClientTtlMs } as const;
/** Certificates start this long before `now`, for machines whose clock is a little behind. */
const skewMs = 5 * 60_000;

/** A new CA named `name`: a self-signed certificate that may sign others, and its key. */
export async function createCA(name: string, opts: Validity = {}): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const usages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const subject: Name = [{ O: ["kiln"] }, { CN: [name] }];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: subject, keys, signingAlgorithm, extensions, ...validity(opts, defaultTtlMs.ca) });
  return { crt: certPem(cert), key: await exportPrivateKey(keys.privateKey) };
}

/** A server certificate for `sans`, signed by `ca` (ExtKeyUsage serverAuth). */
export async function issueServerCert(ca: CertAndKey, opts: ServerCertOptions): Promise<CertAndKey> {
  const subject = [{ CN: [opts.commonName] }];
  return issue(ca, subject, x509.ExtendedKeyUsage.serverAuth, [sanExtension(opts.sans)], validity(opts, defaultTtlMs.server));
}

/** A server certificate for a key held elsewhere (a certificate signing request's), signed by `ca`: the certificate alone, PEM. */
export function signServerCert(ca: CertAndKey, publicKey: X509.PublicKey, opts: ServerCertOptions): Promise<string> {
  return sign(ca, publicKey, [{ CN: [opts.commonName] }], x509.ExtendedKeyUsage.serverAuth, [sanExtension(opts.sans)], validity(opts, defaultTtlMs.server));
}

/** A client certificate whose Organizations are `roles`, signed by `ca` (ExtKeyUsage clientAuth). */
export async function issueClientCert(ca: CertAndKey, opts: ClientCertOptions): Promise<CertAndKey> {
  if (opts.roles.length === 0) throw new Error("a client certificate needs at least one role");
  const tooLong = opts.ttlMs === undefined ? undefined : clientTtlProblem(opts.ttlMs);
  if (tooLong) throw new Error(tooLong);
  const subject: Name = [...opts.roles.map((role) => ({ O: [role] })), { CN: [opts.commonName ?? "kilnctl"] }];
  return issue(ca, subject, x509.ExtendedKeyUsage.clientAuth, [], validity(opts, defaultTtlMs.client));
}

/** A certificate for a cluster component, signed by `ca` (a server's, a client's, or both). */
export async function issueComponentCert(ca: CertAndKey, opts: ComponentCertOptions): Promise<CertAndKey> {
  if (opts.usages.length === 0) throw new Error("a component certificate needs a usage: server, client or both");
  const subject: Name = [...(opts.organizations ?? []).map((o) => ({ O: [o] })), { CN: [opts.commonName] }];
  const usages = opts.usages.map((u) => (u === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth));
  return issue(ca, subject, usages, opts.sans?.length ? [sanExtension(opts.sans)] : [], validity(opts, defaultTtlMs.server));
}

/** A self-signed server certificate (maintenance mode: clients pin its fingerprint). */
export async function selfSigned(opts: ServerCertOptions): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const extensions = [
    ...leafExtensions(x509.ExtendedKeyUsage.serverAuth),
    sanExtension(opts.sans),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const name: Name = [{ CN: [opts.commonName] }];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name, keys, signingAlgorithm, extensions, ...validity(opts, defaultTtlMs.server) });
  return { crt: certPem(cert), key: await exportPrivateKey(keys.privateKey) };
}

type Name = Record<string, string[]>[];

/** A fresh key pair and a certificate for it, signed by `ca`. */
async function issue(ca: CertAndKey, subject: Name, usage: string | string[], extra: X509.Extension[], dates: Dates): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const crt = await sign(ca, keys.publicKey, subject, usage, extra, dates);
  return { crt, key: await exportPrivateKey(keys.privateKey) };
}

/** A certificate (PEM) for `publicKey`, signed by `ca`. */
async function sign(ca: CertAndKey, publicKey: X509.PublicKey | webcrypto.CryptoKey, subject: Name, usage: string | string[], extra: X509.Extension[], dates: Dates): Promise<string> {
  const issuer = new x509.X509Certificate(ca.crt);
  const signingKey = await importPrivateKey(ca.key).catch((err: unknown) => {
    throw new Error("reading the CA key", { cause: err });
  });
  const extensions = [
    ...leafExtensions(usage),
    ...extra,
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
  ];
  const params = { subject, issuer: issuer.subjectName, publicKey, signingKey, signingAlgorithm, extensions, ...dates };
  return certPem(await x509.X509CertificateGenerator.create(params));
}

/** Extensions of every end-entity certificate: not a CA, signing only, its extended usages. */
function leafExtensions(usage: string | string[]): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(Array.isArray(usage) ? usage : [usage], false),
  ];
}

/** Subject alternative names: IP addresses as IP entries, the rest as DNS names. */
export function sanExtension(sans: string[]): X509.Extension {
  const names = sans.map((value) => ({ type: isIP(value) ? ("ip" as const) : ("dns" as const), value }));
  return new x509.SubjectAlternativeNameExtension(names, false);
}

interface Dates {
  notBefore: Date;
  notAfter: Date;
}

/** The validity period for `opts`, with `ttlMs` defaulting to `defaultMs`. */
function validity(opts: Validity, defaultMs: number): Dates {
  const now = (opts.now ?? new Date()).getTime();
  return { notBefore: new Date(now - skewMs), notAfter: new Date(now + (opts.ttlMs ?? defaultMs)) };
}

/** A certificate as PEM ending in a newline, like every PEM kiln writes. */
function certPem(cert: X509.X509Certificate): string {
  return pemEncode("CERTIFICATE", new Uint8Array(cert.rawData));
}
