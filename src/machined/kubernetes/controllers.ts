// What machined runs against the cluster on a control plane: the bootstrap
// resources, ensured once the API server answers (retried until it does),
// then kiln's CSR approver until the signal aborts. Wiring is one call.
import { setTimeout as sleep } from "node:timers/promises";
import type { MachineConfig } from "../../config/schema.js";
import { ensureBootstrapResources } from "./bootstrap-resources.js";
import { createKubeClient, type KubeConnection } from "./client.js";
import { type ApproverOptions, runCsrApprover } from "./csr-approver.js";

/** Ensures the bootstrap resources of `config`, then approves CSRs, until `signal` aborts. */
export async function runControlPlaneControllers(conn: KubeConnection, config: MachineConfig, signal: AbortSignal, opts: ApproverOptions = {}): Promise<void> {
  const client = createKubeClient(conn);
  const log = opts.log ?? (() => {});
  try {
    let waitMs = opts.minBackoffMs ?? 1000;
    while (!signal.aborted) {
      try {
        const done = await ensureBootstrapResources(client, config.cluster?.token);
        log(`bootstrap resources: ${done.map((r) => `${r.path} ${r.t}`).join("; ")}`);
        break;
      } catch (err) {
        log(`bootstrap resources: ${err instanceof Error ? err.message : String(err)}; again in ${waitMs} ms`);
        await sleep(waitMs, undefined, { signal }).catch(() => {});
        waitMs = Math.min(waitMs * 2, opts.maxBackoffMs ?? 30_000);
      }
    }
    if (!signal.aborted) await runCsrApprover(client, signal, opts);
  } finally {
    client.close();
  }
}
