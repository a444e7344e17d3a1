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
  return { ca, csr, cp: config({ type: "controlplane", ca: { crt, key }, token }), config, crt, key };
}

t.test("signs a server certificate for the request's key and names, with no role", async (t) => {
  const { ca, csr, cp } = await setup();
  const answer = await issueForMachine(cp, { token, csr });
  t.equal(answer.ca, ca.crt);
  const cert = new X509Certificate(answer.certificate);
  t.ok(cert.verify(new X509Certificate(ca.crt).publicKey));
  t.equal(cert.subject, "CN=w-1");
  t.equal(cert.subjectAltName, "DNS:w-1, IP Address:10.5.0.3");
  t.same(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth only");
  t.same(rolesOf(cert.raw), []);
  t.equal(cert.ca, false);
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
    const err = await issueForMachine(c, { token: tok, csr: req }).then(
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
