// Certificate signing requests: made for a fresh key, read back with every
// check a control plane relies on before it signs.
import { webcrypto } from "node:crypto";
import t from "tap";
import { createServerCsr, csrLimits, readServerCsr } from "../../src/pki/csr.js";
import { generateKeyPair, signingAlgorithm } from "../../src/pki/keys.js";
import { pemEncode } from "../../src/pki/pem.js";
import type * as X509 from "@peculiar/x509";
import { x509 } from "../../src/pki/x509.js";

/** A request made with the library directly, for shapes createServerCsr never makes. */
async function rawCsr(o: { cn?: string[]; sans?: X509.JsonGeneralNames; keys?: webcrypto.CryptoKeyPair; signer?: webcrypto.CryptoKeyPair; algorithm?: webcrypto.Algorithm }): Promise<string> {
  const keys = o.keys ?? (await generateKeyPair());
  const name = o.cn === undefined ? [{ CN: ["w-1"] }] : o.cn.map((cn) => ({ CN: [cn] }));
  const extensions = o.sans ? [new x509.SubjectAlternativeNameExtension(o.sans)] : [];
  const signer = o.signer ? { publicKey: keys.publicKey, privateKey: o.signer.privateKey } : keys;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys: signer as webcrypto.CryptoKeyPair, signingAlgorithm: o.algorithm ?? signingAlgorithm, extensions });
  return pemEncode("CERTIFICATE REQUEST", new Uint8Array(req.rawData));
}

t.test("a request reads back as the names it was made for", async (t) => {
  const { csr, key } = await createServerCsr({ commonName: "worker-1", sans: ["worker-1", "10.5.0.3", "fd00::3", "localhost"] });
  t.match(key, /^-----BEGIN PRIVATE KEY-----/);
  const read = await readServerCsr(csr);
  t.same({ commonName: read.commonName, sans: read.sans }, { commonName: "worker-1", sans: ["worker-1", "10.5.0.3", "fd00::3", "localhost"] });
});

t.test("refuses what a control plane must not sign, naming the problem", async (t) => {
  const other = await generateKeyPair();
  const cases: [string, Promise<string> | string, RegExp | string][] = [
    ["not PEM", "hello", "the certificate request is not PEM"],
    ["another PEM block", pemEncode("CERTIFICATE", new Uint8Array([48, 0])), "expected a PEM block labelled CERTIFICATE REQUEST, got CERTIFICATE"],
    ["garbage DER", pemEncode("CERTIFICATE REQUEST", new Uint8Array([1, 2, 3])), "the certificate request is not a PKCS #10 request"],
    ["a signature by another key", rawCsr({ signer: other }), "the certificate request's signature does not verify with its own key"],
    ["two common names", rawCsr({ cn: ["a", "b"] }), "the certificate request names 2 common names; expected one, the machine's host name"],
    ["a common name that is no host name", rawCsr({ cn: ["a b"] }), 'the certificate request\'s common name "a b" is not a host name'],
    ["a URI name", rawCsr({ sans: [{ type: "url", value: "https://x" }] }), 'the certificate request names url "https://x"; only DNS names and IP addresses are signed'],
    ["too many names", rawCsr({ sans: Array.from({ length: csrLimits.sans + 1 }, (_, i) => ({ type: "dns" as const, value: `n${i}` })) }), `the certificate request names ${csrLimits.sans + 1} alternative names; at most ${csrLimits.sans}`],
    ["too large", "x".repeat(csrLimits.bytes + 1), `the certificate request is ${csrLimits.bytes + 1} bytes; at most ${csrLimits.bytes} are read`],
  ];
  for (const [what, pem, message] of cases) await t.rejects(readServerCsr(await pem), { message }, what);
});

t.test("refuses a key other than ECDSA P-256", async (t) => {
  const p384 = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const pem = await rawCsr({ keys: p384, algorithm: { name: "ECDSA", hash: "SHA-384" } as webcrypto.Algorithm });
  await t.rejects(readServerCsr(pem), { message: "the certificate request's key is ECDSA P-384; expected ECDSA P-256" });
});
