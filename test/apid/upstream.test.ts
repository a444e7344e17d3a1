// apid's connections to machined: one per role, so a caller holding calls
// open never makes another role's calls wait.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, status } from "@grpc/grpc-js";
import t from "tap";
import { HealthCheckResponse_ServingStatus as Serving, HealthCheckResponseSchema } from "../../src/gen/grpc/health/v1/health_pb.js";
import { LogsRequestSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { maxServiceIdBytes } from "../../src/machinery/api-limits.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callStream, callUnary, startStack } from "./fixtures/stack.js";

const machine = (name: string) => `/kiln.machine.v1.MachineService/${name}`;
const logs = (id: string, follow: boolean) => Buffer.from(toBinary(LogsRequestSchema, create(LogsRequestSchema, { id, follow, tailLines: -1 })));
let pki: TestPki;

interface Teardown {
  teardown(fn: () => unknown): void;
}

t.before(async () => {
  pki = await createTestPki();
});

/** Opens a Logs stream, cancelled at the test's end; resolves on its first message. */
function openLogs(t: Teardown, client: Client, request: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(machine("Logs"), (b: Buffer) => b, (b: Buffer) => b, request, { deadline: Date.now() + 30_000 });
    call.once("data", () => resolve());
    call.on("error", () => {});
    t.teardown(() => call.cancel());
  });
}

t.test("an admin's call answers within a second while a reader holds the only stream machined allows a connection", async (t) => {
  // machined admits one stream per connection: on one shared connection the admin's call would queue behind the reader's.
  const stack = await startStack(t, pki, "mtls", "node-a", createFakeMachine(), undefined, { maxStreamsPerConnection: 1 });
  const reader = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  await openLogs(t, reader, logs("containerd", true));
  void openLogs(t, reader, logs("x".repeat(300 * 1024), true));
  const started = Date.now();
  const version = await callUnary(admin, machine("Version"), Buffer.alloc(0), {}, 1000);
  t.equal(version.code, status.OK, `Version answered in ${Date.now() - started} ms`);
  t.ok(Date.now() - started < 1000);
  const health = await callUnary(admin, "/grpc.health.v1.Health/Check", Buffer.alloc(0), {}, 2000);
  t.equal(fromBinary(HealthCheckResponseSchema, health.messages[0]!).status, Serving.SERVING, "apid's own health probe has its own connection too");
});

t.test("a 300 KB service id is refused at once, naming the limit", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const reader = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  const started = Date.now();
  const out = await callStream(reader, machine("Logs"), logs("x".repeat(300 * 1024), true), {}, 5000);
  t.same([out.code, out.details], [status.INVALID_ARGUMENT, `the service id is ${300 * 1024} bytes; the limit is ${maxServiceIdBytes} bytes`]);
  t.ok(Date.now() - started < 1000, "before any stream is held");
});
