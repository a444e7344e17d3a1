// A control plane signing another machine's apid certificate: only with the
// machine CA's key and the same machine token, only for a server, never a role.
import { X509Certificate } from "node:crypto";
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { MachineError } from "../../../src/machined/errors.js";
import { issueForMachine } from "../../../src/machined/trust/issue.js";
import { createCA } from "../../../src/pki/certs.js";
import { createServerCsr } from "../../../src/pki/csr.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { rolesOf } from "../../../src/pki/roles.js";
import { configOf, yamlDoc } from "../../config/fixtures.js";

const token = "abcdef.0123456789abcdef";

async function setup() {
  const ca = await createCA("machine");
  const crt = encodeBase64Pem(ca.crt);
  const key = encodeBase64Pem(ca.key);
  const cluster = { controlPlane: { endpoint: "https://10.5.0.2:6443" } };
  const config = (machine: Record<string, unknown>): MachineConfig => configOf(yamlDoc({ machine, cluster }));
  const { csr } = await createServerCsr({ commonName: "w-1", sans: ["w-1", "10.5.0.3"] });
  const request = (commonName: string, sans: string[]) => createServerCsr({ commonName, sans }).then((r) => r.csr);
  return { ca, csr, request, cp: config({ type: "controlplane", ca: { crt, key }, token }), config, crt, key };
}

t.test("signs a server certificate for the request's key and the caller's names, with no role", async (t) => {
  const { ca, csr, cp } = await setup();
  const answer = await issueForMachine(cp, { token, csr, peer: "10.5.0.3" }, "cp-1");
  t.equal(answer.ca, ca.crt);
  const cert = new X509Certificate(answer.certificate);
  t.ok(cert.verify(new X509Certificate(ca.crt).publicKey));
  t.equal(cert.subject, "CN=w-1");
  t.equal(cert.subjectAltName, "DNS:w-1, IP Address:10.5.0.3");
  t.same(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth only");
  t.same(rolesOf(cert.raw), []);
  t.equal(cert.ca, false);
});

t.test("signs no name that is not the caller's: other addresses and host names are left out", async (t) => {
  const { request, cp } = await setup();
  const sans = ["w-1", "other-host", "10.5.0.3", "10.5.0.2", "127.0.0.1", "::1", "localhost", "fd00::9"];
  const from = async (peer?: string) => new X509Certificate((await issueForMachine(cp, { token, csr: await request("w-1", sans), ...(peer ? { peer } : {}) }, "cp-1")).certificate).subjectAltName;
  t.equal(await from("10.5.0.3"), "DNS:w-1, IP Address:10.5.0.3, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost");
  t.equal(await from(), "DNS:w-1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost", "no address but loopback when apid named none");
});

t.test("refuses a request naming this control plane, the endpoint or an address as its name", async (t) => {
  const { request, cp } = await setup();
  const cases: [string, string][] = [
    ["cp-1", 'the certificate request names "cp-1", this control plane or the cluster\'s endpoint; a machine\'s certificate names that machine'],
    ["CP-1", 'the certificate request names "CP-1", this control plane or the cluster\'s endpoint; a machine\'s certificate names that machine'],
    ["10.5.0.2", 'the certificate request names "10.5.0.2", this control plane or the cluster\'s endpoint; a machine\'s certificate names that machine'],
    ["10.5.0.7", "the certificate request's common name 10.5.0.7 is an address; it must be the machine's host name"],
  ];
  for (const [cn, message] of cases) await t.rejects(issueForMachine(cp, { token, csr: await request(cn, [cn]), peer: "10.5.0.3" }, "cp-1"), { message }, cn);
});

t.test("refuses, naming why: a wrong token, a bad request, a machine that does not sign", async (t) => {
  const { csr, cp, config, crt, key } = await setup();
  const cases: [string, MachineConfig | undefined, string, string, string][] = [
    ["a wrong token", cp, "zzzzzz.0123456789abcdef", csr, "forbidden"],
    ["an empty token", cp, "", csr, "forbidden"],
    ["a request that is not one", cp, token, "nonsense", "invalid"],
    ["maintenance mode", undefined, token, csr, "refused"],
    ["a worker", config({ type: "worker", ca: { crt, key }, token }), token, csr, "refused"],
    ["a control plane without the CA's key", config({ type: "controlplane", ca: { crt }, token }), token, csr, "refused"],
    ["a control plane without a token", config({ type: "controlplane", ca: { crt, key } }), token, csr, "refused"],
  ];
  const messages: Record<string, string> = {};
  for (const [what, c, tok, req, kind] of cases) {
    const err = await issueForMachine(c, { token: tok, csr: req }, "cp-1").then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof MachineError && err.kind === kind, `${what}: ${kind}`);
    messages[what] = (err as Error).message;
  }
  t.same(messages, {
    "a wrong token": "the machine token does not match this cluster's: set machine.token to the value in the control plane's config",
    "an empty token": "the machine token does not match this cluster's: set machine.token to the value in the control plane's config",
    "a request that is not one": "the certificate request is not PEM",
    "maintenance mode": "this machine has no config yet (maintenance mode): it issues no certificates",
    "a worker": "this machine is not a control plane: only control-plane nodes issue machine certificates",
    "a control plane without the CA's key": "this control plane has no machine.ca key to issue certificates with",
    "a control plane without a token": "this control plane has no machine.token: it issues no certificates until one is set",
  });
});
