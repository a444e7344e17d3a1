// Names the node behind each message of a fanned-out answer, on the wire
// bytes: every MachineService response is either `repeated X messages = 1`
// (unary) or a stream message, and every X and stream message has
// `Metadata metadata = 1`. Protobuf merges a repeated occurrence of a
// singular message field into the earlier one, so appending a Metadata field
// to a message's bytes sets its node without decoding the message.
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { MetadataSchema } from "../gen/kiln/machine/v1/machine_pb.js";

/** Field 1 (length-delimited) holding `bytes`. */
function field1(bytes: Uint8Array): Uint8Array {
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(bytes).finish();
}

/** Field 1 holding Metadata { node, error }. */
function metadataField(node: string, error = ""): Uint8Array {
  return field1(toBinary(MetadataSchema, create(MetadataSchema, { node, error })));
}

/** A stream message with its metadata.node set to `node`. */
export function tagStreamMessage(message: Buffer, node: string): Buffer {
  return Buffer.concat([message, metadataField(node)]);
}

/** A stream message carrying only metadata: `node` failed with `error`. */
export function streamError(node: string, error: string): Buffer {
  return Buffer.from(metadataField(node, error));
}

/** A unary response with every entry of `messages` tagged with `node`; other fields kept as they are. */
export function tagUnaryResponse(response: Buffer, node: string): Buffer {
  const out = new BinaryWriter();
  const reader = new BinaryReader(response);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.LengthDelimited) {
      out.tag(1, WireType.LengthDelimited).bytes(tagStreamMessage(Buffer.from(reader.bytes()), node));
    } else {
      reader.skip(wire, field);
      out.raw(response.subarray(start, reader.pos));
    }
  }
  return Buffer.from(out.finish());
}

/** A unary response with one entry: `node` failed with `error`. */
export function unaryError(node: string, error: string): Buffer {
  return Buffer.from(field1(metadataField(node, error)));
}
