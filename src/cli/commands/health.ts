// `kilnctl health [--wait-timeout D]`: waits until the cluster is healthy —
// every machine answers, every kiln service runs (healthy where it has a
// check), etcd is healthy on every control plane, the Kubernetes API is ready
// and every machine's Node is Ready — printing what it waits for as that
// changes. Exit 0 only when all hold; 7 when one did not in time.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import { parse } from "yaml";
import { connectionFromKubeconfig, createKubeClient, type KubeClient, type Kubeconfig } from "../../machinery/kube-client.js";
import type { CallOpts } from "../../grpc/client.js";
import { ApiError, Code } from "../../grpc/errors.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { CliError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { UnreachableError } from "../kilnconfig-connection.js";
import { type CheckResult, evaluateHealth, type KubeState, type MachineState } from "../health-checks.js";
import { renderList } from "../output.js";
import { serviceRecord } from "../service-view.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

const columns: Column<CheckResult>[] = [
  { header: "CHECK", value: (r) => r.check },
  { header: "OK", value: (r) => (r.ok ? "yes" : "NO") },
  { header: "DETAIL", value: (r) => r.detail },
];

/** Between rounds of checks while waiting. */
const pollMs = 3000;
/** The admin certificate the checks use lives this long: they need it for minutes, not a day. */
const checkCertTtlMs = 15 * 60_000;

/** `health`: the cluster's health, waiting for it up to --wait-timeout. */
export function createHealthCommand(deps: CliDeps): Command {
  const cmd = new Command("health")
    .description("check the cluster's health: machines, kiln services, etcd, the Kubernetes API and Nodes; waits up to --wait-timeout for all to hold")
    .option("--wait-timeout <duration>", "how long to wait for every check to hold (0: check once)", "5m");
  return addGlobalOptions(cmd, { connect: true }).action((o: { waitTimeout: string }, c: Command) => {
    const waitMs = parseDurationFlag("--wait-timeout", o.waitTimeout);
    const deadline = deps.now().getTime() + waitMs;
    return untilConnected(deps, deadline, () =>
      withMachine(c, deps, "checking health", async (m) => {
        const results = await waitForHealth(m, Math.max(0, deadline - deps.now().getTime()));
        m.print(renderList(m.format, results, columns));
        const failed = results.filter((r) => !r.ok);
        if (failed.length) throw new CliError("health", `${failed.map((r) => r.check).join(", ")} did not hold${waitMs ? ` within ${o.waitTimeout}` : ""}`, ExitCode.unhealthy);
      }),
    );
  });
}

/**
 * Runs `connect` again while no endpoint answers (a machine mid-reboot
 * refuses connections) and the deadline allows: waiting for health includes
 * waiting for the API to come back. A server that answers and refuses us
 * (its certificate, ours) is not waited for.
 */
async function untilConnected(deps: CliDeps, deadline: number, connect: () => Promise<void>): Promise<void> {
  let said = "";
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      if (!(err instanceof UnreachableError && err.transient) || deps.now().getTime() + pollMs > deadline) throw err;
      const line = `waiting for the machine API: ${err.reason}`;
      if (line !== said) deps.io.stderr.write(`kilnctl: ${line}\n`);
      said = line;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** Rounds of checks until all hold or the time is up; the last round's verdicts. */
export async function waitForHealth(m: MachineSession, waitMs: number): Promise<CheckResult[]> {
  const deadline = m.deps.now().getTime() + waitMs;
  const kube = new KubeAccess(m);
  let said = "";
  try {
    for (;;) {
      // With a wait, a round ends with it: a machine or an API that does not answer by then is a failed check, not a longer wait.
      const left = deadline - m.deps.now().getTime();
      const call = waitMs > 0 ? { ...m.call, timeoutMs: Math.max(1, Math.min(m.call.timeoutMs ?? left, left)) } : m.call;
      const [machines, kubeState] = await Promise.all([gatherMachines(m, call), within(kube.gather(call), call.timeoutMs, { t: "unavailable", why: "the Kubernetes API did not answer within --wait-timeout" } as const)]);
      const results = evaluateHealth(machines, kubeState);
      const first = results.find((r) => !r.ok);
      if (!first || m.deps.now().getTime() + pollMs > deadline) return results;
      const line = `waiting for ${first.check}: ${first.detail}`;
      if (line !== said) m.deps.io.stderr.write(`kilnctl: ${line}\n`);
      said = line;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    kube.close();
  }
}

/** `work`'s result, or `late` once `ms` have passed first (no limit: `work`'s). */
function within<T>(work: Promise<T>, ms: number | undefined, late: T): Promise<T> {
  if (ms === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Each target machine's hostname and services, or its error. */
async function gatherMachines(m: MachineSession, call: CallOpts): Promise<MachineState[]> {
  const fallback = m.nodes.length ? m.nodes : [m.endpoint];
  try {
    const [hosts, lists] = await Promise.all([m.client.hostname({}, call), m.client.serviceList({}, call)]);
    return lists.messages.map((list, i) => {
      const node = list.metadata?.node || fallback[i] || m.endpoint;
      if (list.metadata?.error) return { node, error: list.metadata.error };
      const host = hosts.messages.find((h) => (h.metadata?.node ?? "") === (list.metadata?.node ?? ""))?.hostname || node;
      return { node, hostname: host, services: list.services.map((s) => serviceRecord(node, s)) };
    });
  } catch (err) {
    return fallback.map((node) => ({ node, error: err instanceof Error ? err.message : String(err) }));
  }
}

/** The Kubernetes API, reached with an admin kubeconfig a control plane issues (once, short-lived). */
class KubeAccess {
  private client: KubeClient | undefined;
  private refused: string | undefined;
  constructor(private readonly m: MachineSession) {}

  async gather(call: CallOpts): Promise<KubeState> {
    if (this.refused) return { t: "unavailable", why: this.refused };
    const client = this.client ?? (await this.connect(call));
    if (typeof client === "string") return { t: "unavailable", why: client };
    const [readyz, nodes] = await Promise.all([
      client.text("/readyz").catch((err: Error) => ({ error: err.message })),
      client
        .list<{ metadata: { name: string }; status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }>("/api/v1/nodes")
        .then((l) =>
          l.items.map((n) => {
            const ready = n.status?.conditions?.find((c) => c.type === "Ready");
            return { name: n.metadata.name, ready: ready?.status === "True", reason: ready?.message || ready?.reason || "" };
          }),
        )
        .catch((err: Error) => ({ error: err.message })),
    ]);
    return { t: "gathered", readyz, nodes };
  }

  /** A client from the first control plane that issues a kubeconfig, or why there is none yet. */
  private async connect(call: CallOpts): Promise<KubeClient | string> {
    try {
      const res = await this.m.client.kubeconfig({ crtTtl: durationFromMs(checkCertTtlMs) }, call);
      const got = res.messages.find((k) => !k.metadata?.error);
      if (!got) return `no control plane issued a kubeconfig: ${res.messages.map((k) => k.metadata?.error).join("; ")}`;
      this.client = createKubeClient(connectionFromKubeconfig(parse(new TextDecoder().decode(got.kubeconfig)) as Kubeconfig));
      return this.client;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      // A caller that may not have one will not be given one by waiting.
      if (err instanceof ApiError && err.code === Code.PERMISSION_DENIED) this.refused = `needs an admin to check Kubernetes: ${why}`;
      return this.refused ?? why;
    }
  }

  close(): void {
    this.client?.close();
  }
}
