// apid serving a new server certificate without a restart: machined renames
// a new pair into apid's TLS directory (writeServerCert); apid checks it and
// swaps it in for new connections, keeping TLS 1.3, the suite and the
// client-certificate rule, while a connection opened before goes on.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { status } from "@grpc/grpc-js";
import t, { type Test } from "tap";
import { reloadServerCertificate } from "../../src/apid/certificate-reload.js";
import { writeServerCert } from "../../src/machined/apid-tls.js";
import { type CertAndKey, issueServerCert } from "../../src/pki/certs.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callUnary, startStack } from "./fixtures/stack.js";

let pki: TestPki;
t.before(async () => {
  pki = await createTestPki();
});

const version = "/kiln.machine.v1.MachineService/Version";

/** A TLS handshake with apid: the served certificate's SANs, the protocol and suite, or the error's code. */
function handshake(port: number, o: { cert?: CertAndKey; maxVersion?: "TLSv1.2" } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: pki.ca.crt, ALPNProtocols: ["h2"], ...(o.cert ? { cert: o.cert.crt, key: o.cert.key } : {}), ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}) });
    let failed = (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message);
    s.on("error", (err: NodeJS.ErrnoException) => failed(err));
    s.once("secureConnect", () => {
      const seen = `${s.getPeerCertificate().subjectaltname} ${s.getProtocol()} ${s.getCipher().standardName}`;
      // TLS 1.3 sends a refused client certificate's alert after the handshake: wait for it.
      s.on("data", () => {});
      setTimeout(() => {
        failed = () => {};
        resolve(seen);
        s.destroy();
      }, 100);
    });
  });
}

/** apid's TLS directory holding `server` (and the CA), removed after the test. */
function tlsDir(t: { teardown(fn: () => unknown): void }, server: CertAndKey): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-apid-reload-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeServerCert(dir, server);
  return dir;
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** apid (mTLS) serving pki.server, read from a TLS directory that `before` may change before the watch begins. */
async function watched(t: Test, before: (dir: string) => void = () => {}) {
  const stack = await startStack(t, pki, "mtls");
  const tls = { cert: Buffer.from(pki.server.crt), key: Buffer.from(pki.server.key), ca: Buffer.from(pki.ca.crt) };
  const dir = tlsDir(t, pki.server);
  before(dir);
  const logged: string[] = [];
  const reload = reloadServerCertificate(dir, tls, stack.replaceCertificate, (l) => void logged.push(l), 20);
  t.teardown(() => reload.close());
  return { stack, dir, logged };
}

t.test("a new pair in the directory is served to new connections; TLS 1.3, the suite and client certificates stay; an open connection goes on", async (t) => {
  const { stack, dir, logged } = await watched(t);
  const admin = pki.clients.admin;
  t.match(await handshake(stack.port, { cert: admin }), "IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1 TLSv1.3 TLS_AES_256_GCM_SHA384", "the first certificate");
  const open = apidClient(t, stack.port, pki.ca, admin);
  t.equal((await callUnary(open, version)).code, status.OK, "a connection opened before the swap");

  const next = await issueServerCert(pki.ca, { commonName: "node-a", sans: ["node-a", "10.9.9.9", "127.0.0.1"] });
  writeServerCert(dir, next);
  await until(async () => (await handshake(stack.port, { cert: admin })).includes("IP Address:10.9.9.9"));
  t.equal(await handshake(stack.port, { cert: admin }), "DNS:node-a, IP Address:10.9.9.9, IP Address:127.0.0.1 TLSv1.3 TLS_AES_256_GCM_SHA384", "the new certificate, the same protocol and suite");
  t.match(await handshake(stack.port, { cert: admin, maxVersion: "TLSv1.2" }), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/, "TLS 1.2 is still refused");
  t.match(await handshake(stack.port), /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/, "a client without a certificate is still refused");
  t.equal((await callUnary(open, version)).code, status.OK, "the connection opened before goes on");
  t.equal((await callUnary(apidClient(t, stack.port, pki.ca, admin), version)).code, status.OK, "a new client calls through the new certificate");
  t.same(logged, [`serving a new server certificate from ${dir} (calls under way keep theirs)`]);
});

t.test("a pair written after apid read its files but before the watch began is served too", async (t) => {
  const next = await issueServerCert(pki.ca, { commonName: "node-a", sans: ["node-a", "10.9.9.7", "127.0.0.1"] });
  const { stack } = await watched(t, (dir) => writeServerCert(dir, next));
  await until(async () => (await handshake(stack.port, { cert: pki.clients.admin })).includes("10.9.9.7"));
  t.pass("served without an event after the watch began");
});

t.test("a certificate whose key is not beside it is not served: the previous pair stays until a matching one comes", async (t) => {
  const { stack, dir, logged } = await watched(t);
  const next = await issueServerCert(pki.ca, { commonName: "node-a", sans: ["node-a", "10.9.9.8", "127.0.0.1"] });
  writeFileSync(join(dir, "server.crt"), next.crt);
  await until(async () => logged.length > 0);
  t.match(logged[0], /^a new server certificate in .* is not usable yet \(.*\); serving the previous one$/);
  t.match(await handshake(stack.port, { cert: pki.clients.admin }), /^IP Address:127\.0\.0\.1, DNS:localhost.* TLSv1\.3/, "still the first certificate");
  t.notOk(new X509Certificate(pki.server.crt).checkIP("10.9.9.8"));
  writeFileSync(join(dir, "server.key"), next.key);
  await until(async () => (await handshake(stack.port, { cert: pki.clients.admin })).includes("10.9.9.8"));
  t.pass("served once its key came");
});
