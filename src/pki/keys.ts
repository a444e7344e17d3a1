// ECDSA P-256 key pairs, and private keys to and from PKCS #8 PEM
// ("-----BEGIN PRIVATE KEY-----", which the machine config schema expects).
import type { webcrypto } from "node:crypto";
import { pemDecode, pemEncode } from "./pem.js";
import { subtle } from "./x509.js";

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;

/** The signature algorithm of every kiln certificate. */
export const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;

/** A fresh, extractable ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await subtle.generateKey(ecdsa, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

/** A private key as PKCS #8 PEM. */
export async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  return pemEncode("PRIVATE KEY", new Uint8Array(await subtle.exportKey("pkcs8", key)));
}

/** A PKCS #8 PEM ECDSA P-256 private key, for signing. */
export async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const { label, der } = pemDecode(pem);
  if (label !== "PRIVATE KEY") throw new Error(`expected a PKCS #8 key (-----BEGIN PRIVATE KEY-----), got ${label}`);
  try {
    return await subtle.importKey("pkcs8", der, ecdsa, false, ["sign"]);
  } catch (err) {
    throw new Error("reading the private key: expected an ECDSA P-256 key", { cause: err });
  }
}
