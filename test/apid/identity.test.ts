// Reading the caller from its TLS peer certificate, and impersonation.
import type { PeerCertificate } from "node:tls";
import { Metadata } from "@grpc/grpc-js";
import t from "tap";
import { callerOf, clientAuthOid, identityOf } from "../../src/apid/identity.js";

/** The fields of a PeerCertificate identity reads. */
function peer(over: Partial<PeerCertificate> = {}): PeerCertificate {
  const base = {
    raw: Buffer.from([1]),
    subject: { O: "os:reader", CN: "kilnctl" },
    ext_key_usage: [clientAuthOid],
    valid_from: "Jan  1 00:00:00 2020 GMT",
    valid_to: "Jan  1 00:00:00 2100 GMT",
  };
  return { ...base, ...over } as unknown as PeerCertificate;
}

const md = (pairs: Record<string, string | string[]> = {}) => {
  const m = new Metadata();
  for (const [k, v] of Object.entries(pairs)) for (const x of [v].flat()) m.add(k, x);
  return m;
};

t.test("reads one or several Organization values", async (t) => {
  t.same(identityOf(peer()), { value: { subject: "kilnctl", organizations: ["os:reader"] } });
  const several = identityOf(peer({ subject: { O: ["os:reader", "os:admin"], CN: "x" } as never }));
  t.same("value" in several && several.value.organizations, ["os:reader", "os:admin"]);
});

t.test("refuses no certificate, one not for clients, and one out of its validity", async (t) => {
  t.same(identityOf(undefined), { error: "no client certificate was presented" });
  t.same(identityOf(peer({ raw: Buffer.alloc(0) })), { error: "no client certificate was presented" });
  t.match(identityOf(peer({ ext_key_usage: ["1.3.6.1.5.5.7.3.1"] })), { error: /not for client authentication/ });
  t.match(identityOf(peer({ valid_to: "Jan  1 00:00:00 2021 GMT" })), { error: /valid only from/ });
  t.match(identityOf(peer({ valid_from: "Jan  1 00:00:00 2099 GMT" })), { error: /valid only from/ });
});

t.test("a caller runs with its highest role; none is an error", async (t) => {
  t.same(callerOf({ subject: "", organizations: ["os:reader", "os:operator"] }, md()), { value: { role: "os:operator", impersonated: false } });
  t.match(callerOf({ subject: "", organizations: ["kiln"] }, md()), { error: /carries no role/ });
});

t.test("kiln-role counts only from an os:impersonator certificate", async (t) => {
  const apid = { subject: "apid@node-a", organizations: ["os:impersonator"] };
  t.same(callerOf(apid, md({ "kiln-role": "os:reader" })), { value: { role: "os:reader", impersonated: true } });
  t.same(callerOf({ subject: "", organizations: ["os:reader"] }, md({ "kiln-role": "os:admin" })), { value: { role: "os:reader", impersonated: false } });
  t.match(callerOf(apid, md()), { error: /carries no role/ }, "an impersonator acts only for someone");
  t.match(callerOf(apid, md({ "kiln-role": "os:impersonator" })), { error: /kiln-role: expected one of/ });
  t.match(callerOf(apid, md({ "kiln-role": ["os:reader", "os:admin"] })), { error: /kiln-role: expected one of/ });
});
