// ImageImport's handler on machined's API server with the fake Machine: a
// client that cancels after its last byte, while the machine imports,
// aborts the import's signal and leaves the server serving.
import type { MessageInitShape } from "@bufbuild/protobuf";
import t from "tap";
import type { ImageImportRequestSchema } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { Code } from "../../../src/grpc/errors.js";
import { createFakeMachine } from "./fixtures/fake-machine.js";
import { serveMachine } from "./fixtures/serve.js";

type Request = MessageInitShape<typeof ImageImportRequestSchema>;

t.test("a cancel while the machine imports (every byte read) aborts the import; the server goes on", async (t) => {
  const machine = createFakeMachine();
  let importing = () => {};
  const started = new Promise<void>((r) => (importing = r));
  let aborted = false;
  machine.imageImport = async (req) => {
    for await (const _ of req.data);
    importing();
    await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve(), { once: true }));
    aborted = true;
    throw new Error("stopped");
  };
  const { client } = await serveMachine(t, machine);
  const ac = new AbortController();
  const reqs = (async function* (): AsyncIterable<Request> {
    yield { part: { case: "header", value: { namespace: "", totalSize: 3n } } };
    yield { part: { case: "data", value: Buffer.from("abc") } };
  })();
  const call = client.imageImport(reqs, { signal: ac.signal });
  await started;
  ac.abort();
  await t.rejects(call, { code: Code.CANCELLED });
  for (let i = 0; i < 40 && !aborted; i++) await new Promise((r) => setTimeout(r, 25));
  t.ok(aborted, "the import's signal was aborted");
  t.equal((await client.version({})).messages.length, 1, "the server still answers");
});
