// Redaction of GetConfiguration for callers below admin.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import t from "tap";
import { parse } from "yaml";
import { redactConfigurationResponse, redactYaml } from "../../src/apid/redact.js";
import { redacted } from "../../src/config/secrets.js";
import { GetConfigurationResponseSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { testCa, worker } from "../config/fixtures.js";

const secrets = { machineToken: "abcdef.0123456789abcdef", clusterToken: "zyxwvu.9876543210zyxwvu" };
const yaml = worker({ ca: testCa, token: secrets.machineToken }, { cluster: { ca: testCa, token: secrets.clusterToken } });

/** A response with one config per node. */
function response(...docs: string[]): Buffer {
  const messages = docs.map((d, i) => ({ metadata: { node: `n${i}` }, data: new TextEncoder().encode(d) }));
  return Buffer.from(toBinary(GetConfigurationResponseSchema, create(GetConfigurationResponseSchema, { messages })));
}

t.test("replaces keys and tokens, keeps certificates and everything else", async (t) => {
  const out = redactYaml(new TextEncoder().encode(yaml));
  t.ok("value" in out);
  const doc = parse(Buffer.from("value" in out ? out.value : []).toString()) as Record<string, Record<string, Record<string, unknown>>>;
  t.same(doc.machine!.ca, { crt: testCa.crt, key: redacted });
  t.equal(doc.machine!.token, redacted);
  t.same(doc.cluster!.ca, { crt: testCa.crt, key: redacted });
  t.equal(doc.cluster!.token, redacted);
  t.equal(doc.machine!.type, "worker");
});

t.test("redacts every node's config in a response, and no secret's bytes remain", async (t) => {
  const out = redactConfigurationResponse(response(yaml, yaml));
  const res = fromBinary(GetConfigurationResponseSchema, out);
  t.same(res.messages.map((m) => m.metadata?.node), ["n0", "n1"]);
  for (const secret of [testCa.key, secrets.machineToken, secrets.clusterToken, Buffer.from(testCa.key, "base64").toString()]) {
    t.equal(out.indexOf(secret), -1, `no ${secret.slice(0, 12)}…`);
  }
});

t.test("fails closed: a config that cannot be read is withheld, with an error", async (t) => {
  const res = fromBinary(GetConfigurationResponseSchema, redactConfigurationResponse(response("key: [unclosed", "just a string")));
  t.same(res.messages.map((m) => m.data.length), [0, 0]);
  t.match(res.messages[0]!.metadata?.error, /could not be redacted/);
  t.match(res.messages[1]!.metadata?.error, /not a YAML mapping/);
});
