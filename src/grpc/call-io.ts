// What every server-side handler shares, machined's and apid's: a signal for
// the caller's cancel, writing a stream with backpressure, and errors as
// gRPC statuses.
import { Metadata, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import { ApiError } from "./errors.js";
import { truncateStatus } from "./status-limit.js";

type Outgoing<T> = ServerWritableStream<unknown, T> | ServerDuplexStream<unknown, T>;

/** Turns what a handler threw into the ApiError its caller gets; a server passes its own to map its domain's errors. */
export type ErrorMapper = (err: unknown) => ApiError;

/** The abort reason of every cancelled call: one error, not a stack trace per call. */
const cancelledByClient = new ApiError(1, "cancelled by the client");

/**
 * Aborts when the client cancels the call (or its deadline passes), or at
 * once when it already has. grpc-js also emits "cancelled" once a call has
 * ended normally, so a signal made for a call is aborted at its end: make it
 * only when something will listen (CallContext's signal is made on first read).
 */
export function cancelSignal(call: { on(event: "cancelled", fn: () => void): unknown; readonly cancelled?: boolean }): AbortSignal {
  const ac = new AbortController();
  if (call.cancelled) ac.abort(cancelledByClient);
  else call.on("cancelled", () => ac.abort(cancelledByClient));
  return ac.signal;
}

/** The status grpc-js sends for an error: its code, and its message (cut to the status limit) as details. */
export function toStatus(err: unknown, toApiError: ErrorMapper = ApiError.from): { code: number; details: string; metadata: Metadata } {
  const e = toApiError(err);
  return { code: e.code, details: truncateStatus(e.message), metadata: new Metadata() };
}

/** Ends a streaming call with the status for `err`, unless the client has gone. */
export function fail<T>(call: Outgoing<T>, signal: AbortSignal, err: unknown, toApiError?: ErrorMapper): void {
  // grpc-js sends a status for an 'error' event; destroy() would leave the client waiting.
  if (!signal.aborted) call.emit("error", toStatus(err, toApiError));
}

/** Writes every message of `source()` to the call, then ends it; a failure becomes the call's status. */
export async function pump<T>(
  call: Outgoing<T>,
  signal: AbortSignal,
  source: () => AsyncIterable<T>,
  toApiError?: ErrorMapper,
): Promise<void> {
  try {
    for await (const m of source()) {
      if (signal.aborted) break;
      if (!call.write(m)) await drained(call, signal);
    }
    if (!signal.aborted) call.end();
  } catch (err) {
    fail(call, signal, err, toApiError);
  }
}

/** Resolves when the call's buffer drains or the call is cancelled. */
function drained<T>(call: Outgoing<T>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
