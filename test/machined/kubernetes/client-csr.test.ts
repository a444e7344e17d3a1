// kube-proxy's CSR: what machined posts (and that kiln's approver approves it
// for an existing node), waiting for the certificate, a refusal, and when the
// stored certificate is renewed.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { KubeClient } from "../../../src/machinery/kube-client.js";
import { clientCsr, requestClientCertificate } from "../../../src/machined/kubernetes/client-csr.js";
import { type CertificateSigningRequest, decide, parseCsrRequest } from "../../../src/machined/kubernetes/csr-approver.js";
import { renewAt, storedRenewAt } from "../../../src/machined/services/kube-proxy-credential.js";
import { createCA, issueComponentCert } from "../../../src/pki/certs.js";
import { tempDir } from "../helpers.js";

t.test("the CSR asks kube-apiserver-client for CN=system:kube-proxy, client auth, no SANs; the approver approves it for a node", async (t) => {
  const { csr } = await clientCsr({ cn: "system:kube-proxy", namePrefix: "kube-proxy-n1-" });
  t.equal(csr.metadata.generateName, "kube-proxy-n1-");
  t.equal(csr.spec.signerName, "kubernetes.io/kube-apiserver-client");
  t.same(csr.spec.usages, ["digital signature", "key encipherment", "client auth"]);
  const parsed = parseCsrRequest(csr.spec.request);
  if (!("value" in parsed)) {
    t.fail(parsed.error);
    return;
  }
  t.same(parsed.value, { subject: [{ type: "CN", value: "system:kube-proxy" }], dns: [], ips: [], otherSans: [] });
  const asNode = { ...csr, spec: { ...csr.spec, username: "system:node:n1", groups: ["system:nodes", "system:authenticated"] } };
  t.match(decide(asNode, parsed.value, { metadata: { name: "n1" } }), { t: "approve" });
});

/** A client whose CSR gets `status` on the second poll. */
function fakeClient(status: CertificateSigningRequest["status"]) {
  const calls: string[] = [];
  let polls = 0;
  const client = {
    create: async (path: string, body: CertificateSigningRequest) => {
      calls.push(`create ${path} ${body.spec.signerName}`);
      return { t: "created", object: { ...body, metadata: { name: "kube-proxy-n1-abcde" } } };
    },
    get: async (path: string) => {
      calls.push(`get ${path}`);
      return { status: ++polls < 2 ? {} : status };
    },
  } as unknown as KubeClient;
  return { client, calls };
}

t.test("waits for the issued certificate and returns it with its key", async (t) => {
  const { client, calls } = fakeClient({ certificate: Buffer.from("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").toString("base64") });
  const got = await requestClientCertificate(client, { cn: "system:kube-proxy", namePrefix: "kube-proxy-n1-", pollMs: 5 }, new AbortController().signal);
  t.match(got, { name: "kube-proxy-n1-abcde", cert: /^-----BEGIN CERTIFICATE-----/, key: /^-----BEGIN PRIVATE KEY-----/ });
  t.same(calls, [
    "create /apis/certificates.k8s.io/v1/certificatesigningrequests kubernetes.io/kube-apiserver-client",
    "get /apis/certificates.k8s.io/v1/certificatesigningrequests/kube-proxy-n1-abcde",
    "get /apis/certificates.k8s.io/v1/certificatesigningrequests/kube-proxy-n1-abcde",
  ]);
});

t.test("a denied CSR throws with the reason", async (t) => {
  const { client } = fakeClient({ conditions: [{ type: "Denied", message: "not today" }] });
  await t.rejects(requestClientCertificate(client, { cn: "system:kube-proxy", namePrefix: "p-", pollMs: 5 }, new AbortController().signal), /^CSR kube-proxy-n1-abcde \(system:kube-proxy\): Denied: not today$/);
});

t.test("renews at two thirds of the life of kube-proxy's stored certificate, and at once without one", async (t) => {
  t.same(renewAt(new Date(0), new Date(3_000)), new Date(2_000));
  const dir = tempDir(t);
  const files = { cert: join(dir, "c.crt"), key: join(dir, "c.key") };
  t.equal(storedRenewAt(files), undefined, "nothing stored");
  const ca = await createCA("test");
  const mine = await issueComponentCert(ca, { commonName: "system:kube-proxy", usages: ["client"], ttlMs: 3 * 3_600_000 });
  writeFileSync(files.cert, mine.crt);
  t.equal(storedRenewAt(files), undefined, "a certificate without its key");
  writeFileSync(files.key, mine.key);
  const at = storedRenewAt(files);
  const left = (at?.getTime() ?? 0) - Date.now();
  t.ok(left > 3_600_000 && left <= 2 * 3_600_000, `in about two hours (less the issuer's clock-skew allowance): ${at?.toISOString()}`);
  const other = await issueComponentCert(ca, { commonName: "someone-else", usages: ["client"], ttlMs: 3_600_000 });
  writeFileSync(files.cert, other.crt);
  t.equal(storedRenewAt(files), undefined, "another user's certificate is not kube-proxy's");
});
