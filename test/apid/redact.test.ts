// Redaction of GetConfiguration for callers below admin.
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import t from "tap";
import { parse } from "yaml";
import { accessRules, methodPath } from "../../src/apid/authorization.js";
import { readerFields } from "../../src/apid/reader-fields.js";
import { redactConfigurationResponse, redactEventsResponse, redactions, redactProcessesResponse, redactYaml } from "../../src/apid/redact.js";
import { redacted } from "../../src/config/secrets.js";
import { EventsResponseSchema, GetConfigurationResponseSchema, MachineService, ProcessesResponseSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
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

t.test("configs redacted lately are remembered by their bytes: each config gets its own answer, again and again", async (t) => {
  const other = worker({ ca: testCa, token: secrets.machineToken, hostname: "w-2" });
  const enc = (s: string) => new TextEncoder().encode(s);
  const texts = (out: ReturnType<typeof redactYaml>) => Buffer.from("value" in out ? out.value : []).toString();
  const first = texts(redactYaml(enc(yaml)));
  const second = texts(redactYaml(enc(other)));
  t.not(first, second, "two configs, two answers");
  t.equal(texts(redactYaml(enc(yaml))), first, "the first again");
  t.match(texts(redactYaml(enc(other))), /hostname: w-2/);
  for (let i = 0; i < 20; i++) redactYaml(enc(`${yaml}\n# ${i}\n`)); // more configs than it keeps
  t.equal(texts(redactYaml(enc(yaml))), first, "the same answer once forgotten");
  t.same(redactYaml(enc("key: [unclosed")), redactYaml(enc("key: [unclosed")), "a failure remembered is the same failure");
});

/** Every leaf field of a message, as reader-fields.ts names them (lists and oneofs walked into). */
function fieldPaths(m: DescMessage, prefix = "", seen: string[] = []): string[] {
  return m.fields.flatMap((f) => {
    const p = prefix ? `${prefix}.${f.name}` : f.name;
    const msg = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message") ? f.message : undefined;
    return msg && !msg.typeName.startsWith("google.protobuf") && !seen.includes(msg.typeName) ? fieldPaths(msg, p, [...seen, msg.typeName]) : [p];
  });
}

t.test("every field a reader can receive is declared safe or redacted, and every redacted one has its filter", async (t) => {
  const reachable = MachineService.methods.filter((m) => accessRules.get(methodPath(MachineService, m.name)) === "os:reader");
  const fields = reachable.flatMap((m) => fieldPaths(m.output).map((f) => `${m.name} ${f}`));
  t.same(fields.filter((f) => !(f in readerFields)), [], "no field is shown to readers by omission");
  t.same(Object.keys(readerFields).filter((f) => !fields.includes(f)), [], "no declaration for a field that is gone or not a reader's");
  const unfiltered = Object.entries(readerFields).filter(([f, v]) => v === "redact" && !redactions.has(methodPath(MachineService, f.split(" ")[0]!)));
  t.same(unfiltered, [], "each redacted field's RPC has a filter");
});

t.test("Processes: a reader sees no command line", async (t) => {
  const res = create(ProcessesResponseSchema, { messages: [{ processes: [{ pid: 7, command: "agent", executable: "/usr/bin/agent", args: "/usr/bin/agent --password=hunter2" }] }] });
  const out = fromBinary(ProcessesResponseSchema, redactProcessesResponse(Buffer.from(toBinary(ProcessesResponseSchema, res))));
  t.match(out.messages[0]!.processes[0], { pid: 7, command: "agent", executable: "/usr/bin/agent", args: redacted });
});

t.test("Events: a config event's errors and warnings keep the path, never the value", async (t) => {
  const ev = create(EventsResponseSchema, {
    id: 3n,
    payload: { case: "config", value: { accepted: false, message: "rejected: invalid config", errors: ['machine.token: expected a token such as abcdef.0123456789abcdef, got "s3cret"'], warnings: ["odd"] } },
  });
  const out = fromBinary(EventsResponseSchema, redactEventsResponse(Buffer.from(toBinary(EventsResponseSchema, ev))));
  t.match(out.payload.value, { message: "rejected: invalid config", errors: [`machine.token: ${redacted}`], warnings: [redacted] });
  const other = Buffer.from(toBinary(EventsResponseSchema, create(EventsResponseSchema, { payload: { case: "machine", value: { message: "m" } } })));
  t.equal(redactEventsResponse(other), other, "other events pass untouched");
});
