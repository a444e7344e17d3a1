// The secrets bundle (secrets.yaml): everything secret about one cluster in
// one file — the machine CA, the Kubernetes CA and their tokens, and what only
// control planes hold: the etcd CA, the service-account key, the front-proxy CA. Certificates
// and keys are stored as base64 PEM, as in the machine config.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { certificatePem, privateKeyPem, token } from "../config/formats.js";
import { humanize } from "../config/issues.js";
import { type CertAndKey, createCA, type Validity } from "./certs.js";
import { exportPrivateKey, generateKeyPair } from "./keys.js";
import { decodeBase64Pem, encodeBase64Pem } from "./pem.js";
import { generateToken } from "./token.js";

/** The bundle in memory: certificates and keys as PEM. */
export interface SecretsBundle {
  /** The cluster's name, also the default kilnconfig context name. */
  name: string;
  machine: { ca: CertAndKey; token: string };
  cluster: { ca: CertAndKey; token: string };
  /** The etcd CA (control planes only); absent in bundles made before kiln ran etcd. */
  etcd?: { ca: CertAndKey };
  /** The service-account signing key (control planes only); absent in bundles made before kiln ran the API server. */
  serviceAccount?: { key: string };
  /** The front-proxy CA (control planes only); absent in bundles made before kiln ran the API server. */
  frontProxy?: { ca: CertAndKey };
}

const caSchema = z.strictObject({ crt: certificatePem, key: privateKeyPem });
const bundleSchema = z.strictObject({
  apiVersion: z.literal("kiln/v1alpha1"),
  kind: z.literal("SecretsBundle"),
  name: z.string().min(1),
  machine: z.strictObject({ ca: caSchema, token }),
  cluster: z.strictObject({ ca: caSchema, token }),
  etcd: z.strictObject({ ca: caSchema }).optional(),
  serviceAccount: z.strictObject({ key: privateKeyPem }).optional(),
  frontProxy: z.strictObject({ ca: caSchema }).optional(),
});

/** Fresh CAs and tokens for cluster `name`. */
export async function generateSecrets(name: string, opts: Validity = {}): Promise<SecretsBundle> {
  const [machineCa, clusterCa, etcdCa, frontProxyCa, serviceAccountKey] = await Promise.all([
    createCA(`${name} machine CA`, opts),
    createCA(`${name} kubernetes CA`, opts),
    createCA(`${name} etcd CA`, opts),
    createCA(`${name} front-proxy CA`, opts),
    generateKeyPair().then((k) => exportPrivateKey(k.privateKey)),
  ]);
  return {
    name,
    machine: { ca: machineCa, token: generateToken() },
    cluster: { ca: clusterCa, token: generateToken() },
    etcd: { ca: etcdCa },
    serviceAccount: { key: serviceAccountKey },
    frontProxy: { ca: frontProxyCa },
  };
}

/** The bundle as the YAML of secrets.yaml. */
export function stringifySecrets(b: SecretsBundle): string {
  const doc = { apiVersion: "kiln/v1alpha1", kind: "SecretsBundle", name: b.name, machine: encodeSecrets(b.machine), cluster: encodeSecrets(b.cluster), ...encodeControlPlaneSecrets(b) };
  const header = `# kiln secrets bundle of cluster "${b.name}": CA keys and tokens. Keep it private (mode 0600).\n`;
  return header + stringify(doc, { lineWidth: 0 });
}

/** What only control planes hold, as base64 PEM, each where the bundle has it: the shape of both secrets.yaml and a config's cluster section. */
export function encodeControlPlaneSecrets(b: SecretsBundle) {
  return {
    ...(b.serviceAccount ? { serviceAccount: { key: encodeBase64Pem(b.serviceAccount.key) } } : {}),
    ...(b.frontProxy ? { frontProxy: { ca: encodeCa(b.frontProxy.ca) } } : {}),
    ...(b.etcd ? { etcd: { ca: encodeCa(b.etcd.ca) } } : {}),
  };
}

/** A CA and token with the CA's PEM as base64. */
function encodeSecrets(s: { ca: CertAndKey; token: string }) {
  return { ca: encodeCa(s.ca), token: s.token };
}

/** A CA with its PEMs as base64. */
export function encodeCa(ca: CertAndKey): { crt: string; key: string } {
  return { crt: encodeBase64Pem(ca.crt), key: encodeBase64Pem(ca.key) };
}

/** Reads secrets.yaml, reporting every problem with its path. */
export function parseSecrets(text: string): { value: SecretsBundle } | { errors: string[] } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    return { errors: [`YAML syntax error: ${(err as Error).message.split("\n")[0]}`] };
  }
  const result = bundleSchema.safeParse(doc ?? {}, { reportInput: true });
  if (!result.success) return { errors: humanize(result.error.issues, bundleSchema) };
  const d = result.data;
  const value: SecretsBundle = {
    name: d.name,
    machine: decodeSecrets(d.machine),
    cluster: decodeSecrets(d.cluster),
    ...(d.etcd ? { etcd: { ca: decodeCa(d.etcd.ca) } } : {}),
    ...(d.serviceAccount ? { serviceAccount: { key: decodeBase64Pem(d.serviceAccount.key) } } : {}),
    ...(d.frontProxy ? { frontProxy: { ca: decodeCa(d.frontProxy.ca) } } : {}),
  };
  const errors = [
    ...keyMismatch("machine.ca", value.machine.ca),
    ...keyMismatch("cluster.ca", value.cluster.ca),
    ...(value.etcd ? keyMismatch("etcd.ca", value.etcd.ca) : []),
    ...(value.frontProxy ? keyMismatch("frontProxy.ca", value.frontProxy.ca) : []),
  ];
  return errors.length > 0 ? { errors } : { value };
}

/** A CA and token with the CA's base64 decoded to PEM. */
function decodeSecrets(s: { ca: { crt: string; key: string }; token: string }) {
  return { ca: decodeCa(s.ca), token: s.token };
}

/** A CA with its base64 decoded to PEM. */
function decodeCa(ca: { crt: string; key: string }): CertAndKey {
  return { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
}

/** A problem when a CA's key is not its certificate's. */
function keyMismatch(path: string, ca: CertAndKey): string[] {
  if (belongs(ca)) return [];
  return [`${path}.key: does not belong to ${path}.crt; expected the certificate's private key`];
}

/** True when the CA's key is its certificate's private key. */
function belongs(ca: CertAndKey): boolean {
  try {
    return new X509Certificate(ca.crt).checkPrivateKey(createPrivateKey(ca.key));
  } catch {
    return false;
  }
}
