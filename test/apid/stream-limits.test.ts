// apid's stream limits: per client connection and per role, each refusal
// RESOURCE_EXHAUSTED naming its limit, each slot given back when its stream ends.
import { create, toBinary } from "@bufbuild/protobuf";
import { Client, type ClientReadableStream, credentials, status } from "@grpc/grpc-js";
import t from "tap";
import { LogsRequestSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { maxStreamsPerConnection, maxStreamsPerRole } from "../../src/machinery/api-limits.js";
import type { CertAndKey } from "../../src/pki/certs.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { startStack } from "./fixtures/stack.js";

const logsPath = "/kiln.machine.v1.MachineService/Logs";
const follow = Buffer.from(toBinary(LogsRequestSchema, create(LogsRequestSchema, { id: "containerd", follow: true, tailLines: -1 })));
let pki: TestPki;

interface Teardown {
  teardown(fn: () => unknown): void;
}

t.before(async () => {
  pki = await createTestPki();
});

/** A client on a connection of its own (grpc-js would otherwise share one among clients with the same certificate). */
function connection(t: Teardown, port: number, cert: CertAndKey): Client {
  const creds = credentials.createSsl(Buffer.from(pki.ca.crt), Buffer.from(cert.key), Buffer.from(cert.crt));
  const client = new Client(`127.0.0.1:${port}`, creds, { "grpc.use_local_subchannel_pool": 1 });
  t.teardown(() => client.close());
  return client;
}

/** A follow stream: "open" once its first message came, else how it ended. */
function openStream(t: Teardown, client: Client): { call: ClientReadableStream<Buffer>; result: Promise<string> } {
  const call = client.makeServerStreamRequest(logsPath, (b: Buffer) => b, (b: Buffer) => b, follow, { deadline: Date.now() + 60_000 });
  t.teardown(() => call.cancel());
  const result = new Promise<string>((resolve) => {
    call.once("data", () => resolve("open"));
    call.on("error", () => {});
    call.on("status", (s) => resolve(`${status[s.code]}: ${s.details}`));
  });
  return { call, result };
}

/** Opens `n` streams on `client`; their outcomes. */
async function openMany(t: Teardown, client: Client, n: number) {
  const streams = Array.from({ length: n }, () => openStream(t, client));
  return { streams, results: await Promise.all(streams.map((s) => s.result)) };
}

t.test(`a connection holds at most ${maxStreamsPerConnection} streams; a slot comes back when one ends`, async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const admin = connection(t, stack.port, pki.clients.admin);
  const { streams, results } = await openMany(t, admin, maxStreamsPerConnection);
  t.ok(results.every((r) => r === "open"), `${maxStreamsPerConnection} open`);
  const refusal = `RESOURCE_EXHAUSTED: this connection has ${maxStreamsPerConnection} streams open; the limit is ${maxStreamsPerConnection} streams a connection`;
  t.equal(await openStream(t, admin).result, refusal);
  t.equal(await openStream(t, connection(t, stack.port, pki.clients.admin)).result, "open", "another connection still may");
  streams[0]!.call.cancel();
  let again = "";
  for (const end = Date.now() + 3000; again !== "open" && Date.now() < end; ) again = await openStream(t, admin).result;
  t.equal(again, "open", "a cancelled stream's slot is free again");
});

t.test(`readers hold at most ${maxStreamsPerRole["os:reader"]} streams together, whatever their connections`, async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const perConnection = maxStreamsPerConnection;
  const connections = Math.ceil(maxStreamsPerRole["os:reader"] / perConnection);
  const opened = [];
  for (let i = 0; i < connections; i++) opened.push(...(await openMany(t, connection(t, stack.port, pki.clients.reader), perConnection)).results);
  t.equal(opened.filter((r) => r === "open").length, maxStreamsPerRole["os:reader"]);
  const limit = maxStreamsPerRole["os:reader"];
  const refused = await openStream(t, connection(t, stack.port, pki.clients.reader)).result;
  t.equal(refused, `RESOURCE_EXHAUSTED: callers with role os:reader have ${limit} streams open; the limit is ${limit} streams for os:reader`);
  t.equal(await openStream(t, connection(t, stack.port, pki.clients.admin)).result, "open", "an admin still may");
});
