// The Kubeconfig RPC against real configs of a generated cluster: a control
// plane issues an admin certificate (system:masters) signed by the Kubernetes
// CA; a worker, a config without endpoint and a lifetime over a year are
// refused with their codes and what to do.
import { X509Certificate } from "node:crypto";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import t from "tap";
import { parse } from "yaml";
import { validateConfig } from "../../../src/config/parse.js";
import type { MachineConfig, MachineConfigInput } from "../../../src/config/schema.js";
import { Code } from "../../../src/grpc/errors.js";
import { issueKubeconfig } from "../../../src/machined/kubeconfig.js";
import { machineConfigFor, type MachineType } from "../../../src/pki/machine-configs.js";
import { generateSecrets } from "../../../src/pki/secrets-bundle.js";
import { createFakeMachine } from "./fixtures/fake-machine.js";
import { failure, serveMachine } from "./fixtures/serve.js";

const hourMs = 3_600_000;
const secrets = await generateSecrets("demo");

/** The validated config of a `type` machine of the generated cluster, changed by `edit`. */
function configOf(type: MachineType, edit: (c: MachineConfigInput) => void = () => {}): MachineConfig {
  const input = machineConfigFor(secrets, type, "10.5.0.2");
  edit(input);
  const r = validateConfig(input);
  if ("errors" in r) throw new Error(r.errors.join("; "));
  return r.config;
}

/** A served machine whose Kubeconfig RPC issues from `config`. */
async function serveWith(t: Parameters<typeof serveMachine>[0], config: MachineConfig) {
  const machine = createFakeMachine();
  machine.kubeconfig = (req) => issueKubeconfig(config, req);
  return (await serveMachine(t, machine)).client;
}

t.test("a control plane issues a 24h admin kubeconfig signed by the Kubernetes CA, all inline", async (t) => {
  const client = await serveWith(t, configOf("controlplane"));
  const [m] = (await client.kubeconfig({})).messages;
  t.equal(m?.metadata?.node, "node-a");
  t.equal(m?.context, "admin@demo");
  t.equal(m?.cluster, "demo");
  t.equal(m?.server, "https://10.5.0.2:6443");
  const kc = parse(new TextDecoder().decode(m?.kubeconfig));
  t.equal(kc["current-context"], "admin@demo");
  t.same(kc.contexts, [{ name: "admin@demo", context: { cluster: "demo", user: "admin@demo" } }]);
  t.equal(kc.clusters[0].cluster.server, "https://10.5.0.2:6443");
  t.equal(Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64").toString(), secrets.cluster.ca.crt);
  const user = kc.users[0].user;
  const crt = new X509Certificate(Buffer.from(user["client-certificate-data"], "base64"));
  const ca = new X509Certificate(secrets.cluster.ca.crt);
  t.ok(crt.verify(ca.publicKey), "signed by the Kubernetes CA");
  t.ok(crt.checkIssued(ca), "issued by it");
  t.equal(crt.issuer, ca.subject);
  t.match(crt.subject, /^O=system:masters\nCN=kiln-admin$/);
  t.notOk(crt.ca);
  const life = Date.parse(crt.validTo) - Date.now();
  t.ok(life > 23.9 * hourMs && life <= 24 * hourMs, `lives 24h (${life}ms)`);
  t.equal(m?.expires && timestampDate(m.expires).getTime(), Date.parse(crt.validTo));
  t.match(Buffer.from(user["client-key-data"], "base64").toString(), /^-----BEGIN PRIVATE KEY-----/);
});

t.test("the lifetime asked for is the certificate's, up to exactly one year", async (t) => {
  const client = await serveWith(t, configOf("controlplane"));
  for (const ttl of [hourMs, 8_760 * hourMs]) {
    const [m] = (await client.kubeconfig({ crtTtl: durationFromMs(ttl) })).messages;
    const kc = parse(new TextDecoder().decode(m?.kubeconfig));
    const crt = new X509Certificate(Buffer.from(kc.users[0].user["client-certificate-data"], "base64"));
    const life = Date.parse(crt.validTo) - Date.now();
    t.ok(life > ttl - 60_000 && life <= ttl, `lives ${ttl}ms`);
  }
});

t.test("a lifetime over 8760h or negative is INVALID_ARGUMENT naming the limit", async (t) => {
  const client = await serveWith(t, configOf("controlplane"));
  const over = await failure(client.kubeconfig({ crtTtl: durationFromMs(8_761 * hourMs) }));
  t.equal(over.code, Code.INVALID_ARGUMENT);
  t.match(over.message, /crt_ttl: a client certificate lives at most 8760h \(one year\).*got 8761h/);
  const negative = await failure(client.kubeconfig({ crtTtl: durationFromMs(-1000) }));
  t.equal(negative.code, Code.INVALID_ARGUMENT);
  t.match(negative.message, /crt_ttl must not be negative/);
});

t.test("a worker holds no cluster CA key: FAILED_PRECONDITION saying to ask a control plane", async (t) => {
  const client = await serveWith(t, configOf("worker"));
  const err = await failure(client.kubeconfig({}));
  t.equal(err.code, Code.FAILED_PRECONDITION);
  t.match(err.message, /this machine holds no cluster CA key \(cluster\.ca\.key\): ask a control-plane node \(kilnctl -n CP kubeconfig\)/);
});

t.test("without cluster.controlPlane.endpoint: FAILED_PRECONDITION naming the field", async (t) => {
  const client = await serveWith(t, configOf("controlplane", (c) => delete c.cluster?.controlPlane));
  const err = await failure(client.kubeconfig({}));
  t.equal(err.code, Code.FAILED_PRECONDITION);
  t.match(err.message, /cluster\.controlPlane\.endpoint is not set/);
});

t.test("a cluster without a name is called kiln; maintenance mode is refused", async (t) => {
  const k = await issueKubeconfig(configOf("controlplane", (c) => delete c.cluster?.name), { ttlMs: 0 });
  t.equal(k.cluster, "kiln");
  t.equal(k.context, "admin@kiln");
  await t.rejects(issueKubeconfig(undefined, { ttlMs: 0 }), { kind: "refused", message: /no config yet/ });
});
