// Uploading a local bundle with UpgradeUpload: chunks of 1 MiB in order, the
// first one opening the upload (upload_id "", total_size set), each at the
// offset of the bytes the machine has so far. Each chunk is one unary call
// under --timeout.
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { CliError } from "./errors.js";
import { onlyMessage } from "./node-messages.js";
import type { MachineSession } from "./session.js";
import type { StepPrinter } from "./step-progress.js";

/** The largest chunk the machine accepts. */
export const uploadChunkBytes = 1024 * 1024;

/** Uploads the file at `path` (`size` bytes) and returns the machine's upload id. */
export async function uploadBundle(m: MachineSession, path: string, size: number, steps: StepPrinter): Promise<string> {
  const file = await open(path, "r");
  const buf = Buffer.alloc(uploadChunkBytes);
  const step = { phase: "upload", message: `uploading ${basename(path)}`, total: size };
  let uploadId = "";
  try {
    for (let offset = 0; offset < size; ) {
      steps.show({ ...step, done: offset });
      const data = await readChunk(file, buf, offset, size, path);
      uploadId = await sendChunk(m, { uploadId, offset, data, totalSize: offset === 0 ? size : 0 });
      offset += data.length;
    }
    steps.show({ ...step, done: size });
  } finally {
    await file.close();
  }
  return uploadId;
}

/** The next chunk of the file at `offset`; fails if the file is shorter than it was. */
async function readChunk(file: Awaited<ReturnType<typeof open>>, buf: Buffer, offset: number, size: number, path: string): Promise<Uint8Array> {
  const want = Math.min(uploadChunkBytes, size - offset);
  const { bytesRead } = await file.read(buf, 0, want, offset);
  if (bytesRead === 0) throw new CliError(`reading ${path}`, `the file shrank to ${offset} bytes while uploading (was ${size}); is it still being written?`);
  return buf.subarray(0, bytesRead);
}

interface Chunk {
  uploadId: string;
  offset: number;
  data: Uint8Array;
  totalSize: number;
}

/** Sends one chunk; returns the upload id, checking the machine now has every byte so far. */
async function sendChunk(m: MachineSession, c: Chunk): Promise<string> {
  const req = { uploadId: c.uploadId, offset: BigInt(c.offset), data: c.data, totalSize: BigInt(c.totalSize) };
  const res = onlyMessage((await m.client.upgradeUpload(req, m.call)).messages);
  const expected = c.offset + c.data.length;
  if (Number(res.received) !== expected) {
    throw new CliError("uploading the bundle", `the machine has ${res.received} bytes after the chunk at ${c.offset}, expected ${expected}; run the upgrade again`);
  }
  if (!res.uploadId) throw new CliError("uploading the bundle", "the machine answered without an upload id");
  return res.uploadId;
}
