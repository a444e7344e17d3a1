// Tagging fanned-out answers with their node, on the wire bytes.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import t from "tap";
import { streamError, tagStreamMessage, tagUnaryResponse, unaryError } from "../../src/apid/node-tag.js";
import { LogsResponseSchema, ServiceListResponseSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";

t.test("sets metadata.node on every message of a unary response, keeping the rest", async (t) => {
  const res = create(ServiceListResponseSchema, {
    messages: [
      { metadata: { node: "hostname-a" }, services: [{ id: "containerd", pid: 42 }] },
      { services: [{ id: "kubelet" }] },
    ],
  });
  const tagged = fromBinary(ServiceListResponseSchema, tagUnaryResponse(Buffer.from(toBinary(ServiceListResponseSchema, res)), "10.0.0.2"));
  t.same(tagged.messages.map((m) => m.metadata?.node), ["10.0.0.2", "10.0.0.2"]);
  t.same(tagged.messages.map((m) => m.services.map((s) => [s.id, s.pid])), [[["containerd", 42]], [["kubelet", 0]]]);
});

t.test("merged responses concatenate, and a failed node is one message with its error", async (t) => {
  const one = Buffer.from(toBinary(ServiceListResponseSchema, create(ServiceListResponseSchema, { messages: [{ services: [{ id: "a" }] }] })));
  const merged = Buffer.concat([tagUnaryResponse(one, "n1"), unaryError("n2", "UNAVAILABLE: connection refused")]);
  const res = fromBinary(ServiceListResponseSchema, merged);
  t.same(res.messages.map((m) => [m.metadata?.node, m.metadata?.error, m.services.length]), [["n1", "", 1], ["n2", "UNAVAILABLE: connection refused", 0]]);
});

t.test("tags stream messages and makes error messages of any stream type", async (t) => {
  const chunk = Buffer.from(toBinary(LogsResponseSchema, create(LogsResponseSchema, { metadata: { node: "h" }, data: new Uint8Array([1, 2]) })));
  const tagged = fromBinary(LogsResponseSchema, tagStreamMessage(chunk, "n1"));
  t.same([tagged.metadata?.node, [...tagged.data]], ["n1", [1, 2]]);
  t.same(fromBinary(LogsResponseSchema, streamError("n2", "boom")).metadata, { $typeName: "kiln.machine.v1.Metadata", node: "n2", error: "boom" });
});
