import { X509Certificate } from "node:crypto";
import t from "tap";
import { parseKilnconfig } from "../../../src/config/kilnconfig.js";
import { validateConfig } from "../../../src/config/parse.js";
import type { MachineConfig } from "../../../src/config/schema.js";
import { generateClientConfiguration } from "../../../src/machined/inspect/client-config.js";
import { createCA, issueClientCert } from "../../../src/pki/certs.js";
import { maxClientTtlMs } from "../../../src/pki/client-ttl.js";
import { decodeBase64Pem, encodeBase64Pem } from "../../../src/pki/pem.js";
import { rolesOf } from "../../../src/pki/roles.js";

/** A valid config whose machine CA is `ca` (its key left out when `withKey` is false). */
function configWith(ca: { crt: string; key: string }, withKey = true, certSANs?: string[]): MachineConfig {
  const machineCa = { crt: encodeBase64Pem(ca.crt), ...(withKey ? { key: encodeBase64Pem(ca.key) } : {}) };
  const input = { apiVersion: "kiln/v1alpha1", kind: "MachineConfig", machine: { type: "worker", ca: machineCa, ...(certSANs ? { certSANs } : {}) }, cluster: { name: "demo" } };
  const r = validateConfig(input);
  if ("errors" in r) throw new Error(r.errors.join("; "));
  return r.config;
}

t.test("issues a client certificate with the roles, signed by the machine CA, and a kilnconfig that holds it", async (t) => {
  const ca = await createCA("demo");
  const c = await generateClientConfiguration(configWith(ca, true, ["kiln.example.com", "fd00::5"]), { roles: ["os:reader"], ttlMs: 3_600_000 });
  t.equal(c.ca, ca.crt);
  const crt = new X509Certificate(c.crt);
  t.ok(crt.verify(new X509Certificate(ca.crt).publicKey), "signed by the machine CA");
  t.same(rolesOf(c.crt), ["os:reader"]);
  t.ok(Date.parse(crt.validTo) - Date.now() <= 3_600_000 + 1000, "lives as long as asked");
  t.match(c.key, /^-----BEGIN PRIVATE KEY-----/);
  const kc = parseKilnconfig(c.kilnconfig);
  if (!("value" in kc)) throw new Error(kc.errors.join("; "));
  t.equal(kc.value.context, "demo");
  const ctx = kc.value.contexts.demo!;
  t.same(ctx.endpoints, ["kiln.example.com:50000", "[fd00::5]:50000"]);
  t.equal(decodeBase64Pem(ctx.crt!), c.crt);
  t.equal(decodeBase64Pem(ctx.key!), c.key);
  t.equal(decodeBase64Pem(ctx.ca!), ca.crt);
});

t.test("uses the machine's own non-loopback addresses when the config names none", async (t) => {
  const ca = await createCA("demo");
  const c = await generateClientConfiguration(configWith(ca), { roles: ["os:admin"], ttlMs: 0 }, () => ["127.0.0.1", "10.5.0.2", "::1", "fe80::1"]);
  const kc = parseKilnconfig(c.kilnconfig);
  t.same("value" in kc && kc.value.contexts.demo?.endpoints, ["10.5.0.2:50000"]);
  t.ok(Date.parse(new X509Certificate(c.crt).validTo) - Date.now() > 300 * 86_400_000, "the PKI's default lifetime (a year)");
});

t.test("refuses in maintenance mode and without the CA key", async (t) => {
  const ca = await createCA("demo");
  await t.rejects(generateClientConfiguration(undefined, { roles: ["os:admin"], ttlMs: 0 }), { kind: "refused", message: /maintenance mode/ });
  await t.rejects(generateClientConfiguration(configWith(ca, false), { roles: ["os:admin"], ttlMs: 0 }), {
    kind: "refused",
    message: /no machine CA key \(machine\.ca\.key\)/,
  });
});

t.test("a lifetime over the maximum (8760h) is refused with a message naming it; exactly the maximum is issued", async (t) => {
  const ca = await createCA("demo");
  await t.rejects(generateClientConfiguration(configWith(ca), { roles: ["os:admin"], ttlMs: maxClientTtlMs + 3_600_000 }), {
    kind: "invalid",
    message: "crt_ttl: a client certificate lives at most 8760h (one year), and more than 0; got 8761h",
  });
  const c = await generateClientConfiguration(configWith(ca), { roles: ["os:admin"], ttlMs: maxClientTtlMs });
  t.ok(Date.parse(new X509Certificate(c.crt).validTo) - Date.now() <= maxClientTtlMs + 1000);
  await t.rejects(issueClientCert(ca, { roles: ["os:admin"], ttlMs: maxClientTtlMs + 1 }), { message: /lives at most 8760h/ }, "the PKI itself refuses too");
});
