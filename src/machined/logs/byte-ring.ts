// A fixed-size ring of the most recent bytes a service wrote. Appending never
// allocates; the oldest bytes are overwritten.

export interface ByteRing {
  append(chunk: Uint8Array): void;
  /** The last `lines` complete-or-trailing lines (negative: everything kept). */
  tail(lines: number): Buffer;
  /** Bytes currently kept. */
  readonly size: number;
}

/** Creates a ring keeping the last `capacity` bytes. */
export function createByteRing(capacity: number): ByteRing {
  const buf = Buffer.alloc(capacity);
  let end = 0; // where the next byte goes
  let size = 0;
  let wrapped = false; // bytes have been overwritten, so the first line may be partial
  return {
    append(chunk) {
      const src = chunk.length > capacity ? chunk.subarray(chunk.length - capacity) : chunk;
      wrapped ||= size + chunk.length > capacity;
      end = copyIn(buf, end, src);
      size = Math.min(capacity, size + src.length);
    },
    tail: (lines) => lastLines(dropPartialFirstLine(linear(buf, end, size), wrapped), lines),
    get size() {
      return size;
    },
  };
}

/** Copies `src` into the ring at `at`, wrapping; returns the new end. */
function copyIn(buf: Buffer, at: number, src: Uint8Array): number {
  const first = Math.min(src.length, buf.length - at);
  buf.set(src.subarray(0, first), at);
  buf.set(src.subarray(first), 0);
  return (at + src.length) % buf.length;
}

/** The kept bytes, oldest first, as one new buffer. */
function linear(buf: Buffer, end: number, size: number): Buffer {
  const start = (end - size + buf.length) % buf.length;
  if (start + size <= buf.length) return Buffer.from(buf.subarray(start, start + size));
  return Buffer.concat([buf.subarray(start), buf.subarray(0, end)]);
}

/** Drops bytes up to the first newline when the start was overwritten. */
function dropPartialFirstLine(bytes: Buffer, wrapped: boolean): Buffer {
  if (!wrapped) return bytes;
  const nl = bytes.indexOf(10);
  return nl < 0 ? bytes : bytes.subarray(nl + 1);
}

/** The last `lines` lines of `bytes`; a trailing newline does not start a line. */
export function lastLines(bytes: Buffer, lines: number): Buffer {
  if (lines < 0) return bytes;
  if (lines === 0) return bytes.subarray(bytes.length);
  let at = bytes[bytes.length - 1] === 10 ? bytes.length - 1 : bytes.length;
  for (let n = 0; n < lines; n++) {
    if (at <= 0) return bytes;
    at = bytes.lastIndexOf(10, at - 1);
    if (at < 0) return bytes;
  }
  return bytes.subarray(at + 1);
}
