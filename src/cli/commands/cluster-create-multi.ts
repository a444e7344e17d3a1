// `kilnctl cluster create --provisioner qemu --name N --controlplanes C
// --workers W [--image DIR] [--disk SIZE] [--config-patch P] [--config-patch-controlplanes P]
// [--config-patch-workers P] [--wait] [--wait-timeout D]`: VMs on a host
// bridge, each at a fixed address; then a context named N, reaching every
// node directly, is merged into the kilnconfig and made current. Loaded only
// when such a create runs.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SecretsBundle } from "../../pki/secrets-bundle.js";
import type { ClusterCreateOptions, ClusterInfo } from "../../provision/provisioner.js";
import { type ClusterPatches, clusterConfigs, clusterContext } from "../cluster-configs.js";
import { afterMachinesUp, type ClusterHookContext, waitForClusterHealth } from "../cluster-hooks.js";
import { renderCluster } from "../cluster-view.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { CliError, toCliError, usageError } from "../errors.js";
import { locateKilnconfig, readKilnconfig, writeKilnconfig } from "../kilnconfig-file.js";
import { readPatches } from "../patch.js";
import { sizeFlag } from "../size-flag.js";
import type { Session } from "../session.js";
import type { Globals } from "../global-options.js";

/** The flags of `cluster create` a multi-node cluster reads (cluster-create.ts declares them all). */
export interface ClusterFlags {
  provisioner: string;
  name: string;
  config?: string;
  waitTimeout?: string;
  image?: string;
  configVia?: string;
  configUrl?: string;
  memory?: string;
  cpus?: string;
  disk?: string;
  installDisk?: string;
  rtcBase?: string;
  controlplanes?: string;
  workers?: string;
  configPatch: string[];
  configPatchControlplanes: string[];
  configPatchWorkers: string[];
  wait?: boolean;
}

/** How long --wait waits in all by default. */
const defaultWaitMs = 600_000;

/** Creates the cluster, merges its context into the kilnconfig, runs the hooks and prints it. */
export async function createMultiNodeCluster(f: ClusterFlags, s: Session & { globals: Globals }, deps: CliDeps): Promise<void> {
  const counts = clusterCounts(f);
  refuseSingleMachineFlags(f);
  const patches = await clusterPatches(f);
  const what = `creating cluster "${f.name}"`;
  const { generateSecrets, stringifySecrets } = await import("../../pki/secrets-bundle.js");
  let bundle: SecretsBundle | undefined;
  const opts: ClusterCreateOptions = {
    name: f.name,
    ...counts,
    memoryMb: count("--memory", f.memory ?? "2048", 128, 1 << 20),
    cpus: count("--cpus", f.cpus ?? "2", 1, 1024),
    ...(f.image !== undefined ? { imageDir: resolve(f.image) } : {}),
    ...(f.disk !== undefined ? { diskBytes: sizeFlag("--disk", f.disk) } : {}),
    ...(f.waitTimeout !== undefined ? { timeoutMs: parseDurationFlag("--wait-timeout", f.waitTimeout) } : {}),
    configsFor: async (plan) => {
      bundle = await generateSecrets(f.name);
      return clusterConfigs(bundle, plan, patches);
    },
    onProgress: s.progress,
  };
  const provisioner = await deps.provisioner();
  const cluster = await provisioner.createCluster(opts).catch((err: unknown) => {
    throw toCliError(err, { what });
  });
  if (!bundle) throw new CliError(what, "the provisioner asked for no machine configs");
  const { writeSecretFile } = await import("../../pki/secret-file.js");
  if (existsSync(cluster.stateDir)) await writeSecretFile(join(cluster.stateDir, "secrets.yaml"), stringifySecrets(bundle), { overwrite: true });
  const hook = await mergeContext(s, deps, cluster, bundle);
  const hooks = (deps.clusterHooks ?? { afterMachinesUp, waitForClusterHealth }) as { afterMachinesUp: typeof afterMachinesUp; waitForClusterHealth: typeof waitForClusterHealth };
  await hooks.afterMachinesUp(hook);
  if (f.wait) await hooks.waitForClusterHealth(hook, opts.timeoutMs ?? defaultWaitMs);
  s.print(renderCluster(s.format, cluster));
}

/** --controlplanes (default 1) and --workers (default 0), checked. */
export function clusterCounts(f: Pick<ClusterFlags, "provisioner" | "controlplanes" | "workers">): { controlplanes: number; workers: number } {
  if (f.provisioner !== "qemu") {
    throw usageError(f.controlplanes !== undefined ? "--controlplanes" : "--workers", "only the qemu provisioner makes multi-node clusters: add --provisioner qemu");
  }
  return { controlplanes: count("--controlplanes", f.controlplanes ?? "1", 1, 250), workers: count("--workers", f.workers ?? "0", 0, 250) };
}

/** A whole number from `min` to `max` (250 nodes: what a /24 holds), or a usage error saying what to pass. */
function count(flag: string, text: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usageError(flag, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)} (e.g. ${flag} ${min === 0 ? 2 : Math.max(min, 1)})`);
  }
  return n;
}

/** Flags that only make sense for one machine. */
function refuseSingleMachineFlags(f: ClusterFlags): void {
  const single = [
    ["--config", f.config],
    ["--config-url", f.configUrl],
    ["--install-disk", f.installDisk],
    ["--rtc-base", f.rtcBase],
  ].find(([, v]) => v !== undefined);
  if (single) throw usageError(String(single[0]), "a multi-node cluster generates its own configs and boots each node from --disk or diskless: use --config-patch… to change the configs, or drop --controlplanes/--workers for one machine");
  if (f.configVia !== undefined && f.configVia !== "fw_cfg") throw usageError("--config-via", "a multi-node cluster passes each config by fw_cfg");
}

/** The three patch flags: each value a FILE, @FILE or inline JSON/YAML. */
export async function clusterPatches(f: Pick<ClusterFlags, "configPatch" | "configPatchControlplanes" | "configPatchWorkers">): Promise<ClusterPatches> {
  const asPatch = (v: string) => (!v.startsWith("@") && existsSync(v) ? `@${v}` : v);
  return {
    all: await readPatches(f.configPatch.map(asPatch)),
    controlplanes: await readPatches(f.configPatchControlplanes.map(asPatch)),
    workers: await readPatches(f.configPatchWorkers.map(asPatch)),
  };
}

/** Merges the cluster's os:admin context into the kilnconfig and makes it current. */
async function mergeContext(s: Session & { globals: Globals }, deps: CliDeps, cluster: ClusterInfo, bundle: SecretsBundle): Promise<ClusterHookContext> {
  const path = locateKilnconfig(s.globals.kilnconfig, deps.io.env).path;
  const context = await clusterContext(bundle, cluster.nodes);
  const current = (await readKilnconfig(path)) ?? { context: "", contexts: {} };
  if (current.contexts[cluster.name]) s.warn(`replacing context "${cluster.name}" in ${path}`);
  await writeKilnconfig(path, { context: cluster.name, contexts: { ...current.contexts, [cluster.name]: context } }, { overwrite: true });
  s.progress(`context "${cluster.name}" in ${path} is current`);
  return { cluster, context, kilnconfig: path, progress: s.progress, session: s, deps };
}
