// Client streams through a real apid: every message forwarded to machined
// in order and the answer back; refused below the RPC's role before
// machined sees it; one node at most when fanned out.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import t from "tap";
import { ImageImportRequestSchema, ImageImportResponseSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createTestPki } from "./fixtures/pki.js";
import { apidClient, callClientStream, startStack } from "./fixtures/stack.js";

const path = "/kiln.machine.v1.MachineService/ImageImport";

/** The messages of an import of `chunks` (bytes each), its header first. */
function messages(chunks: number[], totalSize = chunks.reduce((a, b) => a + b, 0)): Buffer[] {
  const header = create(ImageImportRequestSchema, { part: { case: "header", value: { namespace: "", totalSize: BigInt(totalSize) } } });
  const data = chunks.map((n) => create(ImageImportRequestSchema, { part: { case: "data", value: Buffer.alloc(n, 1) } }));
  return [header, ...data].map((m) => Buffer.from(toBinary(ImageImportRequestSchema, m)));
}

t.test("an admin's client stream reaches machined whole, in order, and its answer comes back", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  const out = await callClientStream(admin, path, messages([1 << 20, 1 << 20, 1 << 20, 7]));
  t.equal(out.code, status.OK, out.details);
  const res = fromBinary(ImageImportResponseSchema, out.messages[0]!);
  t.match(res.messages[0], { metadata: { node: "node-a" }, namespace: "k8s.io", received: BigInt(3 * (1 << 20) + 7), images: [{ name: "kiln.local/fake:1" }] });
  t.same(stack.machine.calls, [`imageImport k8s.io ${3 * (1 << 20) + 7} ${3 * (1 << 20) + 7}`]);
});

t.test("a reader or an operator is refused before machined sees the stream", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  for (const who of ["reader", "operator"] as const) {
    const out = await callClientStream(apidClient(t, stack.port, pki.ca, pki.clients[who]), path, messages([10]));
    t.same([out.code, out.details], [status.PERMISSION_DENIED, `role os:${who} may not call ${path} (needs os:admin)`]);
  }
  t.same(stack.arrived, []);
  t.same(stack.machine.calls, []);
});

t.test("fanned out to more than one node, a client stream is refused: its bytes go to one machine", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  const out = await callClientStream(admin, path, messages([10]), { nodes: "127.0.0.1:1,127.0.0.1:2" });
  t.same([out.code, out.details], [status.INVALID_ARGUMENT, `${path} streams its request to one node; nodes names 2: name one node and call once per node`]);
  t.same(stack.arrived, []);
});

t.test("machined's refusal ends the stream with its status", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  const data = Buffer.from(toBinary(ImageImportRequestSchema, create(ImageImportRequestSchema, { part: { case: "data", value: Buffer.alloc(5) } })));
  const out = await callClientStream(admin, path, [data, data]);
  t.same([out.code, out.details], [status.INVALID_ARGUMENT, "expected the first ImageImportRequest to be a header (namespace, total_size), then data messages"]);
});

t.test("fanned out to one node, the stream goes to that node's machine and its answer is tagged with the node as named", async (t) => {
  const pki = await createTestPki();
  const a = await startStack(t, pki, "mtls", "node-a");
  const b = await startStack(t, pki, "mtls", "node-b");
  const admin = apidClient(t, a.port, pki.ca, pki.clients.admin);
  const out = await callClientStream(admin, path, messages([1 << 20, 5]), { nodes: `127.0.0.1:${b.port}` });
  t.equal(out.code, status.OK, out.details);
  t.match(fromBinary(ImageImportResponseSchema, out.messages[0]!).messages, [{ metadata: { node: `127.0.0.1:${b.port}` }, received: BigInt((1 << 20) + 5) }]);
  t.same([a.machine.calls, b.machine.calls], [[], [`imageImport k8s.io ${(1 << 20) + 5} ${(1 << 20) + 5}`]]);
});
