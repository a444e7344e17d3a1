// A promise that resolves after a while (its own file: the host program
// should not pull in the gRPC client to wait).

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
