// gRPC's wire format over HTTP/2, the parts a client needs: the 5-byte
// message frame, the grpc-timeout header, and the status a call ended with
// (trailers, a trailers-only answer, an HTTP status, a stream reset).
import http2 from "node:http2";
import type { IncomingHttpHeaders } from "node:http2";
import type { Deadline } from "@grpc/grpc-js";
import { ApiError, Code } from "./errors.js";

/** A message's frame: the 5-byte head (not compressed, length) and the body. */
export function messageFrame(body: Buffer): [Buffer, Buffer] {
  const head = Buffer.allocUnsafe(5);
  head[0] = 0;
  head.writeUInt32BE(body.length, 1);
  return [head, body];
}

/** Splits a byte stream into gRPC messages, refusing compressed ones and any over `maxBytes`. */
export class MessageFrames {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The length of the message being read, once its head is in. */
  #want: number | undefined;

  constructor(readonly maxBytes: number) {}

  /** The messages `chunk` completes, in order. */
  *push(chunk: Buffer): Generator<Buffer> {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#want === undefined) {
        if (this.#buffered < 5) return;
        const head = this.#take(5);
        if (head[0] !== 0) throw new ApiError(Code.INTERNAL, `a compressed message (flag ${head[0]}) arrived, though none was asked for`);
        const length = head.readUInt32BE(1);
        if (length > this.maxBytes) throw new ApiError(Code.RESOURCE_EXHAUSTED, `an answer of ${length} bytes is over the ${this.maxBytes}-byte limit`);
        this.#want = length;
      }
      if (this.#buffered < this.#want) return;
      const body = this.#take(this.#want);
      this.#want = undefined;
      yield body;
    }
  }

  /** Throws if the stream ended inside a message. */
  end(): void {
    if (this.#want !== undefined || this.#buffered > 0) throw new ApiError(Code.INTERNAL, "the answer ended inside a message");
  }

  /** The first `n` buffered bytes, copied only when they span chunks. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
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

/**
 * The longest timeout sent or timed: 2^31-1 ms (~24.8 days). grpc-js reads
 * grpc-timeout into a 32-bit integer, so a longer one wraps negative and
 * fires at once, and so does setTimeout; a deadline further off is this far.
 */
export const maxTimeoutMs = 2 ** 31 - 1;

/** The grpc-timeout header for `deadline` (milliseconds below 8 digits, else whole seconds) and the milliseconds left; undefined for none. */
export function grpcTimeout(deadline: Deadline): { header: string; ms: number } | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  const ms = Math.min(maxTimeoutMs, Math.max(1, Math.ceil(at - Date.now())));
  return { header: ms < 1e8 ? `${ms}m` : `${Math.floor(ms / 1000)}S`, ms };
}

/** gRPC's mapping of HTTP statuses, for an answer that carries none of its own. */
const httpCodes: Record<number, Code> = { 400: Code.INTERNAL, 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED, 404: Code.UNIMPLEMENTED, 429: Code.UNAVAILABLE, 502: Code.UNAVAILABLE, 503: Code.UNAVAILABLE, 504: Code.UNAVAILABLE };

/**
 * The failure a call ended with, from its trailers (or a trailers-only
 * answer's headers) and the answer's head; undefined for OK.
 */
export function statusFromHeaders(trailers: IncomingHttpHeaders, head?: IncomingHttpHeaders): ApiError | undefined {
  const http = Number(head?.[":status"] ?? 200);
  const raw = trailers["grpc-status"];
  if (raw === undefined) {
    if (http !== 200) return new ApiError(httpCodes[http] ?? Code.UNKNOWN, `the server answered HTTP ${http}`);
    return new ApiError(Code.UNKNOWN, "the call ended without a status");
  }
  const code = Number(raw);
  if (code === Code.OK) return undefined;
  return new ApiError(Number.isInteger(code) && code > 0 && code <= 16 ? code : Code.UNKNOWN, grpcMessage(trailers["grpc-message"]));
}

/** grpc-message, percent-decoded; kept as sent when it does not decode. */
function grpcMessage(raw: string | string[] | undefined): string {
  const s = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } = http2.constants;

/** The failure of a stream that broke without a status: reset by the server (gRPC's mapping of reset codes) or its connection lost. */
export function statusOfReset(rstCode: number | undefined, err: unknown): ApiError {
  const why = err instanceof Error ? err.message : String(err);
  switch (rstCode) {
    case NGHTTP2_REFUSED_STREAM:
      return new ApiError(Code.UNAVAILABLE, `the server refused the stream: ${why}`);
    case NGHTTP2_CANCEL:
      return new ApiError(Code.CANCELLED, `the server cancelled the call: ${why}`);
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return new ApiError(Code.RESOURCE_EXHAUSTED, `the server is overloaded: ${why}`);
    case NGHTTP2_INADEQUATE_SECURITY:
      return new ApiError(Code.PERMISSION_DENIED, `the server refused the connection's security: ${why}`);
    case undefined:
    case 0:
      return new ApiError(Code.UNAVAILABLE, `the connection failed: ${why}`, { cause: err });
    default:
      return new ApiError(Code.INTERNAL, `the server reset the stream (HTTP/2 code ${rstCode}): ${why}`);
  }
}
