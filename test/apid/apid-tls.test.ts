// The TLS files machined writes for apid (src/machined/apid-tls.ts).
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { apidSans, writeApidTls } from "../../src/machined/apid-tls.js";
import { createCA, issueServerCert } from "../../src/pki/certs.js";
import { fingerprint } from "../../src/pki/fingerprint.js";
import { encodeBase64Pem } from "../../src/pki/pem.js";
import { rolesOf } from "../../src/pki/roles.js";
import { configOf, worker } from "../config/fixtures.js";

/** A fresh directory that does not exist yet, removed after the test. */
function tlsDir(t: { teardown(fn: () => unknown): void }): string {
  const base = mkdtempSync(join(tmpdir(), "kiln-apid-tls-"));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  return join(base, "apid", "tls");
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const self = { uid: process.getuid!(), gid: process.getgid!() };

t.test("from the machine CA: server and impersonator certificates, keys 0600, directory 0700", async (t) => {
  const ca = await createCA("machine");
  const config = configOf(worker({ ca: { crt: encodeBase64Pem(ca.crt), key: encodeBase64Pem(ca.key) }, certSANs: ["api.example.com", "10.9.8.7"] }));
  const dir = tlsDir(t);
  t.same(await writeApidTls({ dir, config, hostname: "node-1", addresses: ["192.168.1.5", "fe80::1"], owner: self }), {
    mode: "mtls",
    sans: ["api.example.com", "10.9.8.7", "node-1", "192.168.1.5", "fe80::1", "127.0.0.1", "::1", "localhost"],
  });
  t.same(readdirSync(dir).sort(), ["ca.crt", "client.crt", "client.key", "complete", "denied-certificates", "peers", "server.crt", "server.key"]);
  t.same([mode(dir), mode(join(dir, "server.key")), mode(join(dir, "client.key")), mode(join(dir, "server.crt"))], ["700", "600", "600", "644"]);
  t.equal(statSync(join(dir, "server.key")).uid, self.uid);
  const caCert = new X509Certificate(ca.crt);
  const server = new X509Certificate(readFileSync(join(dir, "server.crt")));
  t.ok(server.verify(caCert.publicKey), "server certificate signed by the machine CA");
  t.equal(server.subjectAltName, "DNS:api.example.com, IP Address:10.9.8.7, DNS:node-1, IP Address:192.168.1.5, IP Address:FE80:0:0:0:0:0:0:1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost");
  t.ok(server.checkIP("127.0.0.1") && server.checkHost("node-1"));
  const client = new X509Certificate(readFileSync(join(dir, "client.crt")));
  t.ok(client.verify(caCert.publicKey));
  t.same(rolesOf(client.raw), ["os:impersonator"]);
  t.same(client.keyUsage, ["1.3.6.1.5.5.7.3.2"], "ExtKeyUsage clientAuth");
  t.equal(readFileSync(join(dir, "ca.crt"), "utf8"), ca.crt);
  t.equal(readFileSync(join(dir, "denied-certificates"), "utf8"), "", "no certificate denied");
});

t.test("in maintenance mode: a self-signed certificate and its fingerprint, nothing else", async (t) => {
  const dir = tlsDir(t);
  const res = await writeApidTls({ dir, config: undefined, hostname: "kiln-abc", addresses: ["10.0.0.2"], stamp: "start-7" });
  t.same(readdirSync(dir).sort(), ["complete", "server.crt", "server.key"]);
  t.equal(readFileSync(join(dir, "complete"), "utf8"), "start-7", "the complete file, written last, holds the start's stamp");
  const crt = readFileSync(join(dir, "server.crt"), "utf8");
  t.same(res, { mode: "maintenance", fingerprint: fingerprint(crt), sans: ["kiln-abc", "10.0.0.2", "127.0.0.1", "::1", "localhost"] });
  t.match(res.mode === "maintenance" && res.fingerprint, /^[0-9a-f]{64}$/);
  const cert = new X509Certificate(crt);
  t.ok(cert.verify(cert.publicKey), "self-signed");
  t.ok(cert.checkIP("10.0.0.2") && cert.checkHost("kiln-abc") && cert.checkHost("localhost"));
});

t.test("starts from an empty directory each time", async (t) => {
  const ca = await createCA("machine");
  const config = configOf(worker({ ca: { crt: encodeBase64Pem(ca.crt), key: encodeBase64Pem(ca.key) } }));
  const dir = tlsDir(t);
  await writeApidTls({ dir, config, hostname: "n", addresses: [] });
  await writeApidTls({ dir, config: undefined, hostname: "n", addresses: [] });
  t.same(readdirSync(dir).sort(), ["complete", "server.crt", "server.key"], "no stale CA or client certificate");
});

t.test("without the machine CA's key: the certificate a control plane issued, and no client certificate", async (t) => {
  const ca = await createCA("machine");
  const config = configOf(worker({ ca: { crt: encodeBase64Pem(ca.crt) } }));
  await t.rejects(writeApidTls({ dir: tlsDir(t), config, hostname: "n", addresses: [] }), {
    message: "apid needs machine.ca's key, or a certificate a control plane issued for machine.token; it has neither",
  });
  const issued = await issueServerCert(ca, { commonName: "n", sans: ["n"] });
  const dir = tlsDir(t);
  t.same(await writeApidTls({ dir, config, hostname: "n", addresses: ["10.0.0.3"], issued: { ...issued, ca: ca.crt } }), { mode: "mtls", sans: ["n", "10.0.0.3", "127.0.0.1", "::1", "localhost"] });
  t.same(readdirSync(dir).sort(), ["ca.crt", "complete", "denied-certificates", "peers", "server.crt", "server.key"]);
  t.same([readFileSync(join(dir, "server.crt"), "utf8"), readFileSync(join(dir, "ca.crt"), "utf8")], [issued.crt, ca.crt]);
  t.equal(mode(join(dir, "server.key")), "600");
});

t.test("SANs: certSANs, hostname, addresses, loopback; no blanks, no repeats", async (t) => {
  const config = configOf(worker({ certSANs: ["a.example", "127.0.0.1"] }));
  t.same(apidSans(config, "node-1", ["10.0.0.1", "", "10.0.0.1"]), ["a.example", "127.0.0.1", "node-1", "10.0.0.1", "::1", "localhost"]);
});
