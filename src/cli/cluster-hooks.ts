// What `cluster create --controlplanes C --workers W` does once the machines
// are up: found the cluster on the first control plane (Bootstrap), merge an
// admin kubeconfig into the user's (as `kilnctl kubeconfig` does), and with
// --wait, wait until `kilnctl health` holds on every node. Each step calls
// the machines through the kilnconfig context create merged.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { parse } from "yaml";
import type { KilnContext } from "../config/kilnconfig.js";
import { ApiError, Code } from "../grpc/errors.js";
import type { ClusterInfo } from "../provision/provisioner.js";
import { waitForHealth } from "./commands/health.js";
import type { CliDeps } from "./deps.js";
import { CliError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import type { Globals } from "./global-options.js";
import { locateKubeconfig, writeKubeconfig } from "./kubeconfig-file.js";
import { type MachineSession, type Session, withMachineAt } from "./session.js";

export interface ClusterHookContext {
  cluster: ClusterInfo;
  /** The os:admin context merged into the user's kilnconfig (named after the cluster). */
  context: KilnContext;
  /** Where that kilnconfig is. */
  kilnconfig: string;
  progress(step: string): void;
  /** The session of `cluster create` and its deps (the environment, the output streams). */
  session: Session;
  deps: CliDeps;
}

/** The merged context's session, aimed at `nodes` (one grpc call deadline of `timeoutMs`, 0: none). */
function sessionFor(h: ClusterHookContext, nodes: string[], timeoutMs = 60_000): Session & { globals: Globals } {
  const globals: Globals = {
    format: "table",
    endpoints: undefined,
    nodes,
    kilnconfig: h.kilnconfig,
    context: h.cluster.name,
    insecure: false,
    certFingerprint: undefined,
    timeoutMs,
    timeoutText: timeoutMs ? `${timeoutMs / 1000}s` : "",
  };
  return { ...h.session, globals };
}

/** The first control plane: the node that founds etcd and issues the kubeconfig. */
function firstControlPlane(h: ClusterHookContext): string {
  const cp = h.cluster.nodes.find((n) => n.role === "controlplane");
  if (!cp) throw new CliError(`cluster "${h.cluster.name}"`, "has no control plane");
  return cp.address;
}

/**
 * Once every machine's API has answered: bootstraps the first control plane
 * and merges the cluster's admin kubeconfig into the user's kubeconfig
 * ($KUBECONFIG's first file, else ~/.kube/config), making it current.
 */
export async function afterMachinesUp(h: ClusterHookContext): Promise<void> {
  const cp = firstControlPlane(h);
  await withMachineAt(sessionFor(h, [cp]), h.deps, `bootstrapping ${cp}`, async (m) => {
    h.progress(`bootstrapping etcd on ${cp}`);
    await retryUnavailable(() => m.client.bootstrap({}, m.call));
    const res = await m.client.kubeconfig({ crtTtl: durationFromMs(24 * 3_600_000) }, m.call);
    const got = res.messages.find((k) => !k.metadata?.error);
    if (!got) throw new CliError("kubeconfig", res.messages.map((k) => k.metadata?.error).join("; ") || "no answer");
    const target = locateKubeconfig(undefined, h.deps.io.env);
    if (target.t !== "file") return;
    await writeKubeconfig(target.path, parse(new TextDecoder().decode(got.kubeconfig)), { merge: true, force: true });
    h.progress(`context ${got.context} (server ${got.server}) merged into ${target.path} and current`);
  });
}

/** A call the machine may refuse for a moment after its API came up (apid restarting for its new certificate). */
async function retryUnavailable<T>(call: () => Promise<T>, tries = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApiError && err.code === Code.UNAVAILABLE) || i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

/** `--wait`: until `kilnctl health` holds on every node of the cluster, or `timeoutMs` passes (exit 7). */
export async function waitForClusterHealth(h: ClusterHookContext, timeoutMs: number): Promise<void> {
  const nodes = h.cluster.nodes.map((n) => n.address);
  await withMachineAt(sessionFor(h, nodes), h.deps, "waiting for the cluster's health", async (m: MachineSession) => {
    h.progress(`waiting up to ${Math.round(timeoutMs / 1000)} s for the cluster's health`);
    const results = await waitForHealth(m, timeoutMs);
    const failed = results.filter((r) => !r.ok);
    if (failed.length) throw new CliError("health", failed.map((r) => `${r.check}: ${r.detail}`).join("; "), ExitCode.unhealthy);
  });
}
