// The link's frames: how apid and machined carry gRPC calls over apid's unix
// socket without HTTP/2. A frame is a 9-byte head (payload length, call id,
// kind) and its payload. On this one private hop a Node HTTP/2 stream cost
// ~3x the CPU and ~0.2 ms more per call than the same bytes on a plain
// socket (docs/architecture.md, "Where a call's time goes"); the link keeps
// what the hop needs of HTTP/2: many calls at once, cancels, deadlines and
// per-call flow control.
import type { Deadline } from "@grpc/grpc-js";
import { ApiError, Code } from "./errors.js";

/** What a frame says. */
export const Kind = {
  /** Client → server: a call starts; the payload is JSON `{ path, metadata, timeoutMs? }`. */
  open: 1,
  /** Either way: one message. */
  message: 2,
  /** Client → server: no more messages from the client (half-close). */
  end: 3,
  /** Server → client: the call ended; one byte of status code, then the message in UTF-8. */
  status: 4,
  /** Client → server: the caller is gone; the server stops and answers nothing more. */
  cancel: 5,
  /** Either way: the receiver's reader took this many bytes (a 4-byte count); the sender may send as many more. */
  credit: 6,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

const headBytes = 9;

/**
 * Bytes of messages one side of a call may send before the other side's
 * reader has taken them: what a slow reader (a `logs -f` to a slow client)
 * makes the sender hold back. A message larger than the window goes alone.
 * With machined's 256 open streams at most, apid holds at most 64 MiB for
 * callers that stopped reading (HTTP/2 here held 64 KiB a stream).
 */
export const linkWindowBytes = 256 * 1024;

/** The largest frame either side accepts: past any message the API allows (4 MiB answers, 1 MiB image chunks); a larger one is a broken peer. */
export const maxFrameBytes = 16 << 20;

/** What a call's open frame carries. */
export interface OpenCall {
  path: string;
  metadata: Record<string, string>;
  /** Milliseconds until the caller's deadline, when it has one. */
  timeoutMs?: number;
}

/** One frame, head and payload, ready to write. */
export function frame(kind: Kind, id: number, payload?: Uint8Array): Buffer[] {
  const head = Buffer.allocUnsafe(headBytes);
  head.writeUInt32BE(payload?.length ?? 0, 0);
  head.writeUInt32BE(id, 4);
  head[8] = kind;
  return payload && payload.length > 0 ? [head, Buffer.from(payload.buffer, payload.byteOffset, payload.length)] : [head];
}

/**
 * The longest timeout sent or timed: 2^31-1 ms (~24.8 days), past which
 * setTimeout fires at once; a deadline further off is this far.
 */
export const maxTimeoutMs = 2 ** 31 - 1;

/** The milliseconds left before `deadline` (at least 1, at most maxTimeoutMs); undefined for none. */
export function timeoutMs(deadline: Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return Math.min(maxTimeoutMs, Math.max(1, Math.ceil(at - Date.now())));
}

export const openPayload = (o: OpenCall): Buffer => Buffer.from(JSON.stringify(o));

/** An open frame's call, or an ApiError naming what is wrong with it. */
export function readOpen(payload: Buffer): OpenCall {
  let o: unknown;
  try {
    o = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new ApiError(Code.INTERNAL, "the link's open frame is not JSON");
  }
  const { path, metadata, timeoutMs } = (o ?? {}) as Partial<OpenCall>;
  if (typeof path !== "string" || typeof metadata !== "object" || metadata === null || (timeoutMs !== undefined && typeof timeoutMs !== "number")) {
    throw new ApiError(Code.INTERNAL, "the link's open frame lacks a path or metadata");
  }
  if (Object.values(metadata).some((v) => typeof v !== "string")) throw new ApiError(Code.INTERNAL, "the link's open frame has metadata that is not a string");
  return { path, metadata, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

export const creditPayload = (bytes: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(bytes, 0);
  return b;
};

export const statusPayload = (code: number, message: string): Buffer => Buffer.concat([Buffer.from([code]), Buffer.from(message, "utf8")]);

/** The status a status frame carries; undefined for OK. */
export function readStatus(payload: Buffer): ApiError | undefined {
  const code = payload[0] ?? Code.UNKNOWN;
  if (code === Code.OK) return undefined;
  return new ApiError(code <= 16 ? code : Code.UNKNOWN, payload.subarray(1).toString("utf8"));
}

/**
 * Writes a connection's frames, gathered until the current job's microtasks
 * are done and then written at once: a unary call's open, message and end
 * frames (or its answer and status) go in one write rather than three.
 */
export class FrameWriter {
  #pending: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #flush = () => {
    this.#scheduled = false;
    const parts = this.#pending;
    const bytes = this.#bytes;
    this.#pending = [];
    this.#bytes = 0;
    if (this.sock.destroyed) return;
    // Small frames are joined (one copy, one write); large ones are handed over as they are.
    if (bytes <= 64 * 1024) this.sock.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes));
    else {
      this.sock.cork();
      for (const p of parts) this.sock.write(p);
      this.sock.uncork();
    }
  };

  constructor(private readonly sock: { destroyed: boolean; write(b: Buffer): unknown; cork(): void; uncork(): void }) {}

  send(parts: Buffer[]): void {
    for (const p of parts) {
      this.#pending.push(p);
      this.#bytes += p.length;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }
}

/** A frame as read. */
export interface Frame {
  kind: number;
  id: number;
  payload: Buffer;
}

/** Splits a socket's bytes into frames, however they are chunked; a frame over `maxFrameBytes` is an error. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  *push(chunk: Buffer): Generator<Frame> {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= headBytes) {
      const head = this.#peek(headBytes);
      const length = head.readUInt32BE(0);
      if (length > maxFrameBytes) throw new Error(`a link frame of ${length} bytes is over the ${maxFrameBytes}-byte limit`);
      if (this.#buffered < headBytes + length) return;
      const all = this.#take(headBytes + length);
      yield { kind: all[8]!, id: all.readUInt32BE(4), payload: all.subarray(headBytes) };
    }
  }

  /** The buffered bytes from the start, at least `n` of them in one buffer (joined once, and kept joined). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first;
    const all = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [all];
    return all;
  }

  /** The first `n` bytes, copied only when they span chunks. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks, this.#buffered);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#buffered -= n;
    return out;
  }
}
