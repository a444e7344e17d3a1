// machined's state and the Machine facade the API calls: the current config,
// the services it implies, and the sequences that change them.
import { release } from "node:os";
import { isDeepStrictEqual } from "node:util";
import type { ParseResult } from "../config/parse.js";
import type { MachineConfig } from "../config/schema.js";
import { stringifyConfig } from "../config/stringify.js";
import { containerd } from "./services/containerd.js";
import { createApidControl } from "./services/apid.js";
import { extensionService } from "./services/extension.js";
import { etcd } from "./services/etcd.js";
import { clusterControllers } from "./services/cluster-controllers.js";
import { kubeApiServer } from "./services/kube-apiserver.js";
import { kubeControllerManager } from "./services/kube-controller-manager.js";
import { kubeScheduler } from "./services/kube-scheduler.js";
import { kubelet } from "./services/kubelet.js";
import { kubeProxy } from "./services/kube-proxy.js";
import { kubeProxyCredential } from "./services/kube-proxy-credential.js";
import { podRoutes } from "./services/pod-routes.js";
import type { ApplyEnv } from "./apply/apply-env.js";
import { applySystem } from "./apply/apply-system.js";
import { applyEtcFiles } from "./apply/etc-files.js";
import { applyHostname, hostnameFor } from "./apply/hostname.js";
import { type Current, createApplier } from "./apply-config.js";
import type { ConfigStore } from "./config-store.js";
import type { Partition } from "./disks.js";
import type { SlotInfo } from "./slots.js";
import type { Identity } from "./machine-id.js";
import type { TimeSync } from "./time/time-sync.js";
import type { Upgrader } from "./upgrade/upgrade.js";
import type { Installer } from "./install/install.js";
import { createInstallTriggers } from "./install/triggers.js";
import { type BootNext, bootConfig } from "./config-sources/boot-config.js";
import type { ConfigSource } from "./config-sources/source.js";
import { configSources } from "./config-sources/sources.js";
import type { EventBus } from "./events.js";
import { generateClientConfiguration } from "./inspect/client-config.js";
import { createInspector } from "./inspect/inspector.js";
import { type ArchiveImports, createArchiveImports } from "./images/archive-upload.js";
import { containerdPaths, machinedPaths } from "../machinery/paths.js";
import type { ApplyRequest, Machine, RebootMode, UpgradeOptions, UpgradeStep } from "./machine.js";
import { createNetworkInspector } from "./network/inspect.js";
import type { Network } from "./network/network.js";
import type { PowerAction } from "./power.js";
import { clearDirs, planReset, type ResetPlan, wipePartitions } from "./reset.js";
import { createChannel } from "./channel.js";
import { notFound, refused } from "./errors.js";
import { checkBootstrap, checkNoCluster, markBootstrap } from "./bootstrap.js";
import { issueKubeconfig } from "./kubeconfig.js";
import { issueForMachine } from "./trust/issue.js";
import { bootstrapSequence } from "./sequences/bootstrap.js";
import { powerSequence } from "./sequences/power.js";
import { resetSequence } from "./sequences/reset.js";
import { rollbackSequence } from "./sequences/rollback.js";
import type { SequenceRunner } from "./sequences/runner.js";
import { upgradeSequence } from "./sequences/upgrade.js";
import type { MachineContext } from "./service.js";
import type { Supervisor } from "./supervisor/supervisor.js";
import { version } from "./version.js";

/**
 * What the runtime works with. The fields marked "boot" are filled in by the
 * boot sequence's tasks as it goes (sequences/tasks/); the runtime reads them
 * when a call needs them.
 */
export interface RuntimeDeps {
  ctx: MachineContext;
  /** Parses ApplyConfiguration's YAML (machined: in a worker thread); default parseConfig on this thread. */
  parseConfig?(text: string): Promise<ParseResult>;
  applyEnv: ApplyEnv;
  events: EventBus;
  supervisor: Supervisor;
  /** The machine's one lock: every operation that changes the machine runs through it. */
  runner: SequenceRunner;
  store: ConfigStore;
  /** boot: the machine's id (STATE, else derived) and default hostname. */
  identity: Identity;
  log(line: string): void;
  /** Run the network API (apid) as a service; main does, tests of the core leave it out. */
  apid?: boolean;
  /** boot: the network controller (metal only; in the sandbox the host owns the links). */
  network?: Pick<Network, "apply" | "leases">;
  /** Where boot looks for the config, in order (default: configSources() for the platform). */
  configSources?: ConfigSource[];
  /** boot: resolves true once the network is up (false after `ms`); the kiln.config URL waits on it. */
  waitOnline?: (ms: number) => Promise<boolean>;
  /** boot: the boot slots (metal with a disk; none otherwise). */
  slots?: SlotInfo;
  /** boot: the disk's named partitions (metal; none in the sandbox, whose /sys is the host's): what reset wipes. */
  partitions?: Partition[];
  /** Image archives sent over the API (ImageImport); default: spooled in machinedPaths.imageImports, imported into containerd's socket. */
  imageImports?: ArchiveImports;
  /** boot: upgrades and rollbacks (metal with a disk; without one, those RPCs are refused). */
  upgrader?: Upgrader;
  /** Installs kiln to machine.install.disk (metal booted without its disk; none otherwise). */
  installer?: Installer;
  /** Keeps the clock in time with machine.time.servers (main's; tests of the core leave it out). */
  timeSync?: TimeSync;
}

export interface Runtime extends Machine {
  /** boot's config phase: loads the config and starts what it asks for, or enters maintenance mode; the install it asks for, if any. `signal`: a reboot preempting boot stops the search. */
  loadConfig(signal?: AbortSignal): Promise<BootNext>;
  /** boot's last phase: apid, the network API. */
  startApid(): Promise<void>;
  /** Starts apid's process ahead of the boot's startApid (its node loads meanwhile). */
  prespawnApid(): void;
  /** Starts a reboot or shutdown sequence (signals, a failed trial); false when another sequence refused it (logged). */
  request(action: PowerAction, why: string, mode?: RebootMode): boolean;
}

/** The Kubernetes control plane's services, after etcd: skipped until it is bootstrapped on this node. kiln's own controllers follow the API server. */
const controlPlaneServices = [kubeApiServer, kubeControllerManager, kubeScheduler, clusterControllers];

export function createRuntime(d: RuntimeDeps): Runtime {
  let current: Current | undefined;
  const imageImports = d.imageImports ?? createArchiveImports({ dir: machinedPaths.imageImports, socket: containerdPaths.socket });
  const apid = d.apid ? createApidControl(d) : undefined;
  if (apid) d.supervisor.register(apid.definition);
  const configEvent = (accepted: boolean, message: string, errors: string[], warnings: string[], source = "api") =>
    d.events.publish({ t: "config", source, accepted, errors, warnings, message });
  const power = (action: PowerAction, why: string, mode?: RebootMode, force = false) =>
    void d.runner.start(action === "reboot" ? "reboot" : "shutdown", powerSequence(action, why, { ...(mode ? { mode } : {}), force }), { label: action === "reboot" ? "reboot" : "shutdown" });
  const request = (action: PowerAction, why: string, mode?: RebootMode) => {
    try {
      power(action, why, mode);
      return true;
    } catch (err) {
      d.log(`${action} (${why}): ${(err as Error).message}`);
      return false;
    }
  };
  const applyLive = async (next: Current, prev: Current | undefined) => {
    const warnings = applySystem(d.applyEnv, prev?.config, next.config, d.identity);
    if (d.network) warnings.push(...(await d.network.apply(next.config)));
    d.timeSync?.apply(next.config.machine.time?.servers ?? []);
    current = next;
    d.ctx.config = next.config;
    d.ctx.env = next.config.machine.env ?? {};
    await reconcileServices(d, next, prev);
    apid?.afterApply(prev?.config, next.config);
    return warnings;
  };
  // Installing to machine.install.disk (install/triggers.ts): at boot, or on the first ApplyConfiguration.
  const installs = d.installer ? createInstallTriggers({ installer: d.installer, events: d.events, log: d.log, configEvent }) : undefined;
  const applier = createApplier({
    current: () => current,
    save: (yaml) => d.store.save(yaml),
    applyLive,
    configEvent,
    runner: d.runner,
    ...(d.parseConfig ? { parseConfig: d.parseConfig } : {}),
    ...(installs ? { install: (next: Current, req: ApplyRequest) => installs.onApply(next.config, next.yaml, req) } : {}),
  });
  const reset = (p: ResetPlan) =>
    resetSequence(p, {
      forget: () => {
        d.events.publish({ t: "machine", stage: p.action === "reboot" ? "rebooting" : "shutting-down", message: `resetting: wiping ${p.targets.join(", ")}` });
        clearDirs(p.dirs, d.log);
        if (p.targets.includes("state")) current = undefined;
      },
      wipe: () => wipePartitions({ sys: d.ctx.sys, log: d.log }, p.partitions),
    });

  return {
    loadConfig: (signal) => bootConfig({ ...bootConfigDeps(d), applyLive, configEvent, ...(installs ? { install: installs.atBoot } : {}) }, signal),
    startApid: async () => void (apid ? await d.supervisor.start("apid") : undefined),
    prespawnApid: () => apid?.prespawn(d.ctx),
    request,
    version: () => {
      const upgrade = d.upgrader?.status();
      const slots = d.upgrader?.slots() ?? d.slots ?? { slot: "", bootMode: "", slots: [] };
      return { ...version(d.ctx.platform, release(), current === undefined), ...slots, ...(upgrade ? { upgrade } : {}) };
    },
    services: () => d.supervisor.status(),
    serviceStart: (id) => serviceAction(d, id, "start"),
    serviceStop: (id) => serviceAction(d, id, "stop"),
    serviceRestart: (id) => serviceAction(d, id, "restart"),
    logs: (q) => d.supervisor.logs(q.id, q.tailLines, q.follow, q.signal),
    events: (q) => d.events.watch(q),
    sequences: () => {
      const running = d.runner.current();
      return { runs: d.runner.runs(), ...(running ? { running } : {}) };
    },
    reboot: async (mode: RebootMode, force) => power("reboot", "requested through the API", mode, force),
    shutdown: async (force) => power("poweroff", "requested through the API", undefined, force),
    upgradeUpload: async (chunk) => upgrader(d).upload(chunk),
    upgrade: (req) => upgradeStream(d, req),
    rollback: async (mode, force) => {
      const plan = upgrader(d).planRollback(mode, force);
      d.runner.start("rollback", rollbackSequence(plan.run), { label: `rollback to slot ${plan.slot} (kiln ${plan.version})` });
      return { slot: plan.slot, version: plan.version };
    },
    reset: async (req) => {
      const plan = planReset(req, d.partitions ?? [], d.ctx.paths.state);
      d.runner.start("reset", reset(plan), { label: `reset (wiping ${plan.targets.join(", ")})` });
    },
    bootstrap: async () => {
      checkBootstrap(current?.config, d.ctx.paths.bin("etcd"));
      await checkNoCluster(current!.config);
      const startControlPlane = () => Promise.all(controlPlaneServices.map((s) => d.supervisor.start(s.id)));
      const steps = { mark: () => markBootstrap(), startEtcd: () => d.supervisor.start("etcd"), startControlPlane };
      d.runner.start("bootstrap", bootstrapSequence(steps), { label: "bootstrap (etcd founds a new cluster on this node)" });
      return { message: "etcd starts as a new cluster on this node, then the API server, controller manager and scheduler; kilnctl services shows them" };
    },
    kubeconfig: (req) => issueKubeconfig(current?.config, req),
    applyConfiguration: (req) => applier(req),
    configuration: () => (current ? shownConfig(current.config) : undefined),
    ...createInspector({ paths: d.ctx.paths, config: () => current?.config, ...(d.timeSync ? { timeSync: d.timeSync.status } : {}) }),
    ...createNetworkInspector(d.ctx.sys),
    generateClientConfiguration: (req) => generateClientConfiguration(current?.config, req),
    issueMachineCertificate: (req) => issueForMachine(current?.config, req),
    imageImport: (req) => imageImports.import(req),
  };
}

/** The upgrader, or refused where there is none (no disk, the sandbox). */
function upgrader(d: RuntimeDeps): Upgrader {
  if (!d.upgrader) throw refused("this machine has no boot slots (it runs from its boot media or in a sandbox): upgrades need an installed disk");
  return d.upgrader;
}

/** Takes the lock for the upgrade sequence now, then streams its steps until it ends (it goes on if the caller leaves). */
function upgradeStream(d: RuntimeDeps, req: UpgradeOptions): AsyncIterable<UpgradeStep> {
  const stages = upgrader(d).stages(req);
  const steps = createChannel<UpgradeStep>();
  const { done } = d.runner.start("upgrade", upgradeSequence(stages, steps.push), { label: "upgrade" });
  done.then(
    () => steps.close(),
    (err: unknown) => steps.close(err),
  );
  return steps;
}

/** What boot needs to find its config (config-sources/boot-config.ts), but the live apply. */
function bootConfigDeps(d: RuntimeDeps) {
  const sources = d.configSources ?? configSources({ platform: d.ctx.platform, sys: d.ctx.sys, store: d.store, waitOnline: d.waitOnline });
  const enterMaintenance = () => {
    // A DHCP lease may have come first: keep its hostname and nameservers.
    const lease = d.network?.leases()[0];
    const name = hostnameFor(undefined, d.identity, lease?.hostname);
    applyHostname(d.applyEnv, name);
    applyEtcFiles(d.applyEnv, name, undefined, undefined, lease ? { now: lease.nameservers, before: false } : undefined);
  };
  return { sources, store: d.store, events: d.events, log: d.log, enterMaintenance };
}

/** Brings the services in line with the config: built-ins once, extensions by diff. */
async function reconcileServices(d: RuntimeDeps, next: Current, prev: Current | undefined): Promise<void> {
  const s = d.supervisor;
  if (!prev) {
    s.register(containerd);
    s.register(etcd);
    for (const c of controlPlaneServices) s.register(c);
    s.register(kubelet);
    s.register(podRoutes);
    s.register(kubeProxyCredential);
    s.register(kubeProxy);
  }
  const before = new Map((prev?.config.machine.services ?? []).map((x) => [x.id, x]));
  const after = new Map((next.config.machine.services ?? []).map((x) => [x.id, x]));
  for (const [id, spec] of before) if (!isDeepStrictEqual(after.get(id), spec)) await s.unregister(id);
  for (const [id, spec] of after) if (!isDeepStrictEqual(before.get(id), spec)) s.register(extensionService(spec));
  if (!prev) return void s.startAll();
  for (const [id, spec] of after) if (!isDeepStrictEqual(before.get(id), spec)) void s.start(id);
  if (!isDeepStrictEqual(prev.config.machine.env, next.config.machine.env)) return restartRunning(d);
  if (registriesChanged(prev, next)) await restartIfRunning(d, "containerd");
  if (kubeletChanged(prev, next)) await restartIfRunning(d, "kubelet");
}

/** machine.registries changed: containerd must restart, its prepare writing the hosts directory and config anew. */
function registriesChanged(prev: Current, next: Current): boolean {
  return !isDeepStrictEqual(prev.config.machine.registries, next.config.machine.registries);
}

/** machine.kubelet changed: kubelet must restart to pick it up (cluster changes need a reboot, never reach here). */
function kubeletChanged(prev: Current, next: Current): boolean {
  return !isDeepStrictEqual(prev.config.machine.kubelet, next.config.machine.kubelet);
}

/** Restarts every running service (machine.env changed). */
async function restartRunning(d: RuntimeDeps): Promise<void> {
  for (const st of d.supervisor.status()) await restartIfRunning(d, st.id);
}

async function restartIfRunning(d: RuntimeDeps, id: string): Promise<void> {
  if (d.supervisor.status().find((s) => s.id === id)?.state === "Running") await d.supervisor.restart(id);
}

/** start/stop/restart with NOT_FOUND for unknown ids. */
async function serviceAction(d: RuntimeDeps, id: string, action: "start" | "stop" | "restart"): Promise<string> {
  if (!d.supervisor.status().some((s) => s.id === id)) throw notFound(`service "${id}" not found`);
  await d.supervisor[action](id);
  return `service ${id}: ${action} requested`;
}

/** The config as YAML, written once per config: a 256 KiB one costs the loop 40-130 ms, and readers may ask in a loop. */
const shown = new WeakMap<MachineConfig, string>();
function shownConfig(config: MachineConfig): string {
  let yaml = shown.get(config);
  if (yaml === undefined) {
    yaml = stringifyConfig(config);
    shown.set(config, yaml);
  }
  return yaml;
}
