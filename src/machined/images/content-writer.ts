// Writing one blob into containerd's content store over its gRPC API
// (Content.Write, a bidirectional stream): data at offsets, then a commit
// that containerd checks against the expected digest and size. A blob
// containerd already has is not written again.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Client as GrpcClient, Metadata } from "@grpc/grpc-js";
import {
  WriteAction,
  WriteContentRequestSchema,
  type WriteContentResponse,
  WriteContentResponseSchema,
} from "../../gen/containerd/services/content/v1/content_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";

const WRITE_PATH = "/containerd.services.content.v1.Content/Write";
/** The most data one WriteContentRequest carries. */
const CHUNK = 1 << 20;

export interface Blob {
  digest: string;
  size: number;
  labels?: Record<string, string>;
}

/** Writes `data` (all of it, in order) as `blob`; resolves when containerd has committed it, or already had it. */
export async function writeBlob(grpc: GrpcClient, metadata: Metadata, blob: Blob, data: AsyncIterable<Buffer> | Buffer, signal?: AbortSignal): Promise<void> {
  const call = grpc.makeBidiStreamRequest(
    WRITE_PATH,
    (m: Parameters<typeof toBinary<typeof WriteContentRequestSchema>>[1]) => Buffer.from(toBinary(WriteContentRequestSchema, m)),
    (b: Buffer) => fromBinary(WriteContentResponseSchema, b),
    metadata,
  );
  const onAbort = () => call.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  // The last response, or the stream's error: containerd answers every request.
  const finished = new Promise<WriteContentResponse | undefined>((resolve, reject) => {
    let last: WriteContentResponse | undefined;
    call.on("data", (r: WriteContentResponse) => {
      last = r;
      if (r.action === WriteAction.COMMIT) resolve(r);
    });
    call.on("error", reject);
    call.on("end", () => resolve(last));
  });
  // A stream error (AlreadyExists at once, say) ends the writing too: a send never waits on a dead stream.
  const broken = finished.then(
    () => new Promise<never>(() => {}),
    (err: unknown) => Promise.reject(err),
  );
  broken.catch(() => {});
  const send = async (m: Parameters<typeof create<typeof WriteContentRequestSchema>>[1]) => {
    if (!call.write(create(WriteContentRequestSchema, m))) await Promise.race([new Promise((r) => call.once("drain", r)), broken]);
  };
  const ref = `kiln-import-${blob.digest}`;
  const common = { ref, total: BigInt(blob.size), expected: blob.digest };
  try {
    let offset = 0;
    for await (const piece of Buffer.isBuffer(data) ? [data] : data) {
      for (let at = 0; at < piece.length; at += CHUNK) {
        const part = piece.subarray(at, at + CHUNK);
        await send({ ...common, action: WriteAction.WRITE, offset: BigInt(offset), data: part });
        offset += part.length;
      }
    }
    if (offset !== blob.size) throw new ApiError(Code.INVALID_ARGUMENT, `blob ${blob.digest}: ${offset} bytes, the archive says ${blob.size}`);
    await send({ ...common, action: WriteAction.COMMIT, offset: BigInt(offset), labels: blob.labels ?? {} });
    call.end();
    const r = await Promise.race([finished, broken]);
    if (r?.action !== WriteAction.COMMIT) throw new ApiError(Code.INTERNAL, `blob ${blob.digest}: containerd ended the write without committing it`);
  } catch (err) {
    call.cancel();
    const e = ApiError.from(err);
    if (e.code === Code.ALREADY_EXISTS) return; // containerd has this blob already
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
