
import t from "tap";
import { serveMachine } from "./fixtures/serve.js";
import { type ApiError, Code } from "../../../src/grpc/errors.js";
import { maxStatusBytes, truncatedMarker } from "../../../src/grpc/status-limit.js";
import { maxConfigBytes, maxPathBytes, maxServiceIdBytes } from "../../../src/machinery/api-limits.js";
import { MachineError } from "../../../src/machined/errors.js";
import { createFakeMachine, } from "./fixtures/fake-machine.js";

/** A server for `machine` on a temp socket, and a client for it. */
const setup = serveMachine;

/** The error a call (or a stream, read to its end) fails with. */
async function failure(p: Promise<unknown> | AsyncIterable<unknown>): Promise<ApiError> {
  try {
    if (Symbol.asyncIterator in p) for await (const _ of p);
    else await p;
  } catch (err) {
    return err as ApiError;
  }
  throw new Error("expected the call to fail");
}

const readerSizedId = "x".repeat(300 * 1024);
const timeoutMs = 5000;

t.test("refuses a 300 KB service id in Logs with INVALID_ARGUMENT naming the limit, at once", async (t) => {
  const { client, machine } = await setup(t);
  const started = Date.now();
  const err = await failure(client.logs({ id: readerSizedId, follow: true }, { timeoutMs }));
  t.equal(err.code, Code.INVALID_ARGUMENT, err.message.slice(0, 200));
  t.match(err.message, `the limit is ${maxServiceIdBytes} bytes`);
  t.ok(err.message.length < 200, "the message does not echo the id");
  t.ok(Date.now() - started < timeoutMs / 2, "the answer comes long before the deadline");
  t.same(machine.calls, []);
});

t.test("refuses a 300 KB service id in ServiceStart the same way", async (t) => {
  const { client } = await setup(t);
  const err = await failure(client.serviceStart({ id: readerSizedId }, { timeoutMs }));
  t.equal(err.code, Code.INVALID_ARGUMENT);
  t.match(err.message, `the service id is ${readerSizedId.length} bytes; the limit is ${maxServiceIdBytes} bytes`);
});

t.test("refuses a path over the limit in Read without echoing it", async (t) => {
  const { client } = await setup(t);
  const err = await failure(client.read({ path: `/${"p".repeat(maxPathBytes)}` }, { timeoutMs }));
  t.equal(err.code, Code.INVALID_ARGUMENT);
  t.match(err.message, `the limit is ${maxPathBytes} bytes`);
  t.ok(err.message.length < 200);
});

t.test("refuses a 1 MiB config at once, naming the limit and its size", async (t) => {
  const { client, machine } = await setup(t);
  const data = new TextEncoder().encode(`# ${"c".repeat(1024 * 1024)}\n`);
  const started = Date.now();
  const err = await failure(client.applyConfiguration({ data, dryRun: true }, { timeoutMs }));
  t.equal(err.code, Code.INVALID_ARGUMENT);
  t.match(err.message, `the machine config is ${data.length} bytes; the limit is ${maxConfigBytes} bytes`);
  t.ok(Date.now() - started < timeoutMs / 2);
  t.same(machine.applied, []);
});

t.test("a status message longer than the cap arrives cut, with a marker, and Version still answers", async (t) => {
  const machine = createFakeMachine();
  machine.services = () => {
    throw new MachineError("invalid", `bad: ${"m".repeat(300 * 1024)}`);
  };
  const { client } = await setup(t, machine);
  const err = await failure(client.serviceList({}, { timeoutMs }));
  t.equal(err.code, Code.INVALID_ARGUMENT);
  t.ok(err.message.endsWith(truncatedMarker), "the message ends with the marker");
  t.ok(Buffer.byteLength(err.message) <= maxStatusBytes, `${Buffer.byteLength(err.message)} bytes ≤ ${maxStatusBytes}`);
  t.match((await client.version({}, { timeoutMs })).messages[0], { tag: "0.1.0" });
});
