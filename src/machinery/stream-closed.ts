// Waiting for a file stream to let go of its file, for code that removes the
// file after a failure.
import type { WriteStream } from "node:fs";

/**
 * Resolves once `stream` has closed. A stream opens its file asynchronously,
 * and pipeline() rejects without waiting for that: a file removed before the
 * stream has closed can be created again by the open still under way. Never
 * rejects (events.once would, on the error the stream was destroyed with).
 */
export function streamClosed(stream: WriteStream): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once("close", () => resolve()));
}
