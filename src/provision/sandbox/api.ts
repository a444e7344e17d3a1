// Talking to a sandbox's machined over its unix socket (trusted, local, so
// insecure credentials): is it up, and please shut down.
import { credentials } from "@grpc/grpc-js";
import { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../grpc/client.js";
import { sleep } from "./sleep.js";

/** Resolves when a Version call answers; rejects with the call's error otherwise. */
export async function pingApi(endpoint: string, timeoutMs = 1000): Promise<void> {
  const client = createClient(MachineService, endpoint, credentials.createInsecure());
  try {
    await client.version({}, { timeoutMs });
  } finally {
    client.close();
  }
}

/** Asks machined to shut down; a connection dropped by the shutdown counts as success. */
export async function shutdownApi(endpoint: string, timeoutMs = 5000): Promise<void> {
  const client = createClient(MachineService, endpoint, credentials.createInsecure());
  try {
    await client.shutdown({ force: false }, { timeoutMs });
  } finally {
    client.close();
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** Says why waiting is pointless (the sandbox died), or undefined to go on. */
  gone: () => string | undefined;
  intervalMs?: number;
}

/** Polls Version until it answers; throws on timeout or when `gone` says so. */
export async function waitForApi(endpoint: string, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const last = await pingApi(endpoint).then(() => undefined, (err: unknown) => err);
    if (last === undefined) return;
    const why = opts.gone();
    if (why) throw new Error(why, { cause: last });
    if (Date.now() > deadline) throw new Error(`the API did not answer within ${opts.timeoutMs} ms`, { cause: last });
    await sleep(opts.intervalMs ?? 200);
  }
}
