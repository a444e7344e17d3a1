import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:tls";
import t from "tap";
import { type CertAndKey, createCA, issueClientCert, issueServerCert, selfSigned } from "../../src/pki/certs.js";
import { fingerprint } from "../../src/pki/fingerprint.js";
import { type ClientTls, grpcCredentials, probeServer } from "../../src/pki/tls-client.js";

/** A TLS 1.3 server on 127.0.0.1 with `identity`, closed after the test; resolves with its port. */
async function tlsServer(t: { teardown(fn: () => unknown): void }, identity: CertAndKey, opts: { ca?: string } = {}): Promise<number> {
  const server: Server = createServer({ cert: identity.crt, key: identity.key, minVersion: "TLSv1.3", ALPNProtocols: ["h2"], ...opts }, (s) => s.write("hello"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

const maintenance = await selfSigned({ commonName: "maintenance", sans: ["127.0.0.1"] });
const ca = await createCA("machine CA");

t.test("a pinned fingerprint that does not match is refused with both fingerprints", async (t) => {
  const port = await tlsServer(t, maintenance);
  const wrong = "ab".repeat(32);
  const tls: ClientTls = { host: "127.0.0.1", trust: { t: "pinned", fingerprint: wrong } };
  await t.rejects(probeServer(tls, port, 5000), {
    message: `server certificate fingerprint ${fingerprint(maintenance.crt)} does not match --cert-fingerprint ${wrong}`,
  });
});

t.test("a pinned fingerprint that matches is accepted and the server certificate returned", async (t) => {
  const port = await tlsServer(t, maintenance);
  const tls: ClientTls = { host: "127.0.0.1", trust: { t: "pinned", fingerprint: fingerprint(maintenance.crt) } };
  t.equal(await probeServer(tls, port, 5000), maintenance.crt);
});

t.test("without a pin any server certificate is accepted", async (t) => {
  const port = await tlsServer(t, maintenance);
  t.equal(await probeServer({ host: "127.0.0.1", trust: { t: "any" } }, port, 5000), maintenance.crt);
});

t.test("a server certificate from the CA naming the IP dialled is trusted", async (t) => {
  const server = await issueServerCert(ca, { commonName: "apid", sans: ["127.0.0.1"] });
  const client = await issueClientCert(ca, { roles: ["os:admin"] });
  const port = await tlsServer(t, server, { ca: ca.crt });
  t.equal(await probeServer({ host: "127.0.0.1", trust: { t: "ca", ca: ca.crt }, identity: client }, port, 5000), server.crt);
});

t.test("a server certificate that does not name the IP dialled is refused", async (t) => {
  const server = await issueServerCert(ca, { commonName: "apid", sans: ["10.9.9.9", "apid.example.com"] });
  const port = await tlsServer(t, server);
  await t.rejects(probeServer({ host: "127.0.0.1", trust: { t: "ca", ca: ca.crt } }, port, 5000), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
});

t.test("a self-signed server certificate is refused when a CA is expected", async (t) => {
  const port = await tlsServer(t, maintenance);
  await t.rejects(probeServer({ host: "127.0.0.1", trust: { t: "ca", ca: ca.crt } }, port, 5000), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
});

t.test("credentials for a pinned server need the certificate a probe saw", async (t) => {
  const tls: ClientTls = { host: "127.0.0.1", trust: { t: "pinned", fingerprint: fingerprint(maintenance.crt) } };
  t.throws(() => grpcCredentials(tls), { message: "a pinned server certificate must be probed first" });
  t.same(grpcCredentials(tls, maintenance.crt).options, { "grpc.ssl_target_name_override": "kiln-apid" });
});
