// Uploading a local bundle with UpgradeUpload: chunks of 1 MiB, the first one
// opening the upload (upload_id "", total_size set), then up to
// uploadInFlight at once, so that reading the file, apid's TLS and
// machined's writes overlap instead of taking turns. The machine takes them
// in any order within its window and answers the bytes it has from offset 0
// without a gap; once every chunk is answered, that must be the whole file.
// Each chunk is one unary call under --timeout.
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { CliError } from "./errors.js";
import { onlyMessage } from "./node-messages.js";
import type { MachineSession } from "./session.js";
import type { StepPrinter } from "./step-progress.js";

/** The largest chunk the machine accepts. */
export const uploadChunkBytes = 1024 * 1024;
/** Chunks in flight at once (the machine takes up to 8 MiB ahead of the bytes it has). */
export const uploadInFlight = 4;

/** Uploads the file at `path` (`size` bytes) and returns the machine's upload id. */
export async function uploadBundle(m: MachineSession, path: string, size: number, steps: StepPrinter): Promise<string> {
  const file = await open(path, "r");
  const step = { phase: "upload", message: `uploading ${basename(path)}`, total: size };
  let received = 0;
  const show = () => steps.show({ ...step, done: received });
  try {
    show();
    const first = await readChunk(file, 0, size, path);
    const opened = await sendChunk(m, { uploadId: "", offset: 0, data: first, totalSize: size }, size);
    if (opened.received !== first.length) {
      throw new CliError("uploading the bundle", `the machine has ${opened.received} bytes after the first chunk, expected ${first.length}; run the upgrade again`);
    }
    const uploadId = opened.uploadId;
    received = opened.received;
    let next = first.length;
    let failed: unknown;
    // Each lane sends the next chunk not yet sent until none is left or one fails.
    const lane = async () => {
      while (failed === undefined && next < size) {
        const offset = next;
        next += Math.min(uploadChunkBytes, size - offset);
        try {
          const data = await readChunk(file, offset, size, path);
          const r = await sendChunk(m, { uploadId, offset, data, totalSize: 0 }, size);
          received = Math.max(received, r.received);
          show();
        } catch (err) {
          failed ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: uploadInFlight }, lane));
    if (failed !== undefined) throw failed;
    if (received !== size) {
      throw new CliError("uploading the bundle", `the machine has ${received} bytes after every chunk was sent, expected ${size}; run the upgrade again`);
    }
    show();
    return uploadId;
  } finally {
    await file.close();
  }
}

/** The chunk of the file at `offset`, in a buffer of its own; fails if the file is shorter than it was. */
async function readChunk(file: Awaited<ReturnType<typeof open>>, offset: number, size: number, path: string): Promise<Uint8Array> {
  const buf = Buffer.alloc(Math.min(uploadChunkBytes, size - offset));
  const { bytesRead } = await file.read(buf, 0, buf.length, offset);
  if (bytesRead < buf.length) throw new CliError(`reading ${path}`, `the file shrank to ${offset + bytesRead} bytes while uploading (was ${size}); is it still being written?`);
  return buf;
}

interface Chunk {
  uploadId: string;
  offset: number;
  data: Uint8Array;
  totalSize: number;
}

/** Sends one chunk; returns the upload id and the bytes the machine has from offset 0, which must be within the file. */
async function sendChunk(m: MachineSession, c: Chunk, size: number): Promise<{ uploadId: string; received: number }> {
  const req = { uploadId: c.uploadId, offset: BigInt(c.offset), data: c.data, totalSize: BigInt(c.totalSize) };
  const res = onlyMessage((await m.client.upgradeUpload(req, m.call)).messages);
  const received = Number(res.received);
  if (!res.uploadId) throw new CliError("uploading the bundle", "the machine answered without an upload id");
  if (!Number.isSafeInteger(received) || received < 0 || received > size) {
    throw new CliError("uploading the bundle", `the machine has ${res.received} bytes after the chunk at ${c.offset}, of a file of ${size}; run the upgrade again`);
  }
  return { uploadId: res.uploadId, received };
}
