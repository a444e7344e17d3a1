// The kubelet's credential as machined uses it: certificate and key taken
// apart from kubelet-client-current.pem, with the CA and the endpoint.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { kubeletConnection } from "../../../src/machined/kubernetes/kubelet-credential.js";
import { createCA, issueComponentCert } from "../../../src/pki/certs.js";
import { tempDir } from "../helpers.js";

t.test("splits the kubelet's one PEM file into certificate and key, with the CA and the endpoint", async (t) => {
  const dir = tempDir(t);
  const ca = await createCA("kubernetes");
  const node = await issueComponentCert(ca, { commonName: "system:node:n1", organizations: ["system:nodes"], usages: ["client"] });
  const files = { cert: join(dir, "kubelet-client-current.pem"), ca: join(dir, "ca.crt") };
  writeFileSync(files.cert, node.crt + node.key);
  writeFileSync(files.ca, ca.crt);
  const config = { cluster: { controlPlane: { endpoint: "https://10.0.0.1:6443" } } } as MachineConfig;
  const conn = kubeletConnection(config, files);
  t.equal(conn.server, "https://10.0.0.1:6443");
  t.equal(conn.ca, ca.crt);
  t.equal(conn.cert?.trim(), node.crt.trim());
  t.equal(conn.key?.trim(), node.key.trim());
  writeFileSync(files.cert, node.crt);
  t.throws(() => kubeletConnection(config, files), /expected a certificate and a private key/);
});
