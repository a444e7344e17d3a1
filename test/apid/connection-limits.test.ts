// apid's per-connection limits on its main port: a connection with no call in
// flight is closed after the idle limit (GOAWAY: the client reconnects on its
// next call), while one holding a follow stream is kept however long it runs.
import { create, toBinary } from "@bufbuild/protobuf";
import { Client, connectivityState, credentials } from "@grpc/grpc-js";
import t from "tap";
import { LogsRequestSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { connectionOptions } from "../../src/apid/server.js";
import { apidConnectionLimits } from "../../src/machinery/api-limits.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createTestPki } from "./fixtures/pki.js";
import { startStack } from "./fixtures/stack.js";

const pki = await createTestPki();
const idleMs = 400;

function connect(t: { teardown(fn: () => unknown): void }, port: number): Client {
  const creds = credentials.createSsl(Buffer.from(pki.ca.crt), Buffer.from(pki.clients.admin.key), Buffer.from(pki.clients.admin.crt));
  const client = new Client(`127.0.0.1:${port}`, creds, { "grpc.use_local_subchannel_pool": 1 });
  t.teardown(() => client.close());
  return client;
}

const ready = (client: Client) => new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
const state = (client: Client) => client.getChannel().getConnectivityState(false);

t.test("apid's server gets grpc-js options for every limit, bounded where grpc-js leaves them unbounded", async (t) => {
  t.same(connectionOptions(), {
    "grpc-node.max_session_memory": apidConnectionLimits.maxSessionMemoryMB,
    "grpc.max_connection_idle_ms": apidConnectionLimits.idleMs,
    "grpc.keepalive_time_ms": apidConnectionLimits.keepaliveMs,
    "grpc.keepalive_timeout_ms": apidConnectionLimits.keepaliveTimeoutMs,
  });
  t.ok(apidConnectionLimits.maxSessionMemoryMB > 0 && apidConnectionLimits.maxSessionMemoryMB <= 64, "session memory is capped");
  t.ok(apidConnectionLimits.idleMs >= 60_000, "idle connections live a minute or more: kilnctl's calls and fan-out reuse them");
  t.equal(connectionOptions({ idleMs: 5 })["grpc.max_connection_idle_ms"], 5, "a given limit overrides its default");
});

t.test(`a connection with no call is closed after ${idleMs} ms idle`, async (t) => {
  const stack = await startStack(t, pki, "mtls", "node-a", undefined, undefined, {}, undefined, { idleMs });
  const client = connect(t, stack.port);
  await ready(client);
  t.equal(state(client), connectivityState.READY);
  const end = Date.now() + 10_000;
  while (state(client) === connectivityState.READY && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  t.equal(connectivityState[state(client)], "IDLE", "the server sent GOAWAY and the channel went idle");
  await ready(client);
  t.pass("and the next call connects again");
});

t.test("a connection holding a follow stream is not idle", async (t) => {
  const machine = createFakeMachine();
  const stack = await startStack(t, pki, "mtls", "node-a", machine, undefined, {}, undefined, { idleMs });
  const client = connect(t, stack.port);
  const request = Buffer.from(toBinary(LogsRequestSchema, create(LogsRequestSchema, { id: "containerd", follow: true, tailLines: -1 })));
  const call = client.makeServerStreamRequest("/kiln.machine.v1.MachineService/Logs", (b: Buffer) => b, (b: Buffer) => b, request);
  t.teardown(() => call.cancel());
  let ended = "";
  call.on("error", () => {});
  call.on("status", (s) => (ended = `${s.code} ${s.details}`));
  await new Promise((resolve) => call.once("data", resolve));
  await new Promise((r) => setTimeout(r, idleMs * 5));
  t.equal(ended, "", "the stream is still open");
  t.equal(connectivityState[state(client)], "READY", "and so is its connection");
});
