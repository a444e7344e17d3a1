import { X509Certificate } from "node:crypto";
import t from "tap";
import { createCA, issueClientCert, issueServerCert, selfSigned } from "../../src/pki/certs.js";
import { fingerprint, parseFingerprint } from "../../src/pki/fingerprint.js";
import { decodeBase64Pem, encodeBase64Pem, pemDecode, pemEncode } from "../../src/pki/pem.js";
import { isRole, rolesOf } from "../../src/pki/roles.js";

const ca = await createCA("test machine CA");
const caCert = new X509Certificate(ca.crt);

t.test("a CA is self-signed, may sign certificates and has a PKCS #8 ECDSA P-256 key", async (t) => {
  t.ok(caCert.ca);
  t.ok(caCert.verify(caCert.publicKey));
  t.equal(caCert.subject, "O=kiln\nCN=test machine CA");
  t.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
  t.equal(caCert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
});

t.test("a server certificate verifies against its CA and names its IPs and DNS names", async (t) => {
  const server = await issueServerCert(ca, { commonName: "apid", sans: ["10.0.0.2", "fd00::2", "node-1.example.com"] });
  const cert = new X509Certificate(server.crt);
  t.ok(cert.verify(caCert.publicKey));
  t.ok(cert.checkIssued(caCert));
  t.notOk(cert.ca);
  t.equal(cert.checkIP("10.0.0.2"), "10.0.0.2");
  t.equal(cert.checkIP("fd00::2"), "fd00::2");
  t.equal(cert.checkHost("node-1.example.com"), "node-1.example.com");
  t.equal(cert.checkIP("10.0.0.3"), undefined);
  t.same(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  t.ok(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(server.key)));
});

t.test("a client certificate carries each role as an Organization and is for clientAuth", async (t) => {
  const client = await issueClientCert(ca, { roles: ["os:operator", "os:reader"] });
  const cert = new X509Certificate(client.crt);
  t.ok(cert.verify(caCert.publicKey));
  t.same(rolesOf(client.crt), ["os:operator", "os:reader"]);
  t.same(rolesOf(cert.raw), ["os:operator", "os:reader"]);
  t.same(cert.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  t.match(cert.subject, /CN=kilnctl/);
});

t.test("a client certificate needs a role", async (t) => {
  await t.rejects(issueClientCert(ca, { roles: [] }), { message: "a client certificate needs at least one role" });
});

t.test("a certificate signed by another CA does not verify", async (t) => {
  const other = await createCA("other CA");
  const server = await issueServerCert(other, { commonName: "apid", sans: ["10.0.0.2"] });
  t.notOk(new X509Certificate(server.crt).verify(caCert.publicKey));
});

t.test("validity runs from five minutes before now for the ttl", async (t) => {
  const now = new Date("2030-01-01T00:00:00Z");
  const client = await issueClientCert(ca, { roles: ["os:admin"], ttlMs: 3_600_000, now });
  const cert = new X509Certificate(client.crt);
  t.equal(new Date(cert.validFrom).toISOString(), "2029-12-31T23:55:00.000Z");
  t.equal(new Date(cert.validTo).toISOString(), "2030-01-01T01:00:00.000Z");
});

t.test("a self-signed certificate verifies against itself and is for serverAuth", async (t) => {
  const ss = await selfSigned({ commonName: "maintenance", sans: ["127.0.0.1"] });
  const cert = new X509Certificate(ss.crt);
  t.ok(cert.verify(cert.publicKey));
  t.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
  t.same(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
});

t.test("a fingerprint is the SHA-256 of the DER in lowercase hex, read back with or without colons", async (t) => {
  const fp = fingerprint(ca.crt);
  t.equal(fp, caCert.fingerprint256.replace(/:/g, "").toLowerCase());
  t.equal(fingerprint(caCert.raw), fp);
  t.same(parseFingerprint(caCert.fingerprint256), { value: fp });
  t.same(parseFingerprint(` ${fp.toUpperCase()} `), { value: fp });
  t.same(parseFingerprint("abc"), { error: 'expected a SHA-256 fingerprint (64 hex digits, colons allowed), got "abc"' });
});

t.test("PEM and base64 PEM round trip", async (t) => {
  const { label, der } = pemDecode(ca.crt);
  t.equal(label, "CERTIFICATE");
  t.equal(pemEncode(label, der), ca.crt);
  t.equal(decodeBase64Pem(encodeBase64Pem(ca.key)), ca.key);
  t.throws(() => decodeBase64Pem("bm90IHBlbQ=="), { message: "expected base64 of a PEM block (LS0tLS1CRUdJTi…)" });
  t.throws(() => pemDecode("nothing"), { message: "expected a PEM block (-----BEGIN …-----)" });
});

t.test("roles are os:admin, os:operator and os:reader", async (t) => {
  t.ok(isRole("os:reader"));
  t.notOk(isRole("os:root"));
});
