// machined's state and the Machine facade the API calls: the current config,
// the services it implies, and the sequences that change them.
import { release } from "node:os";
import { isDeepStrictEqual } from "node:util";
import { stringifyConfig } from "../config/stringify.js";
import { ApiError, Code } from "../grpc/errors.js";
import { containerd } from "./services/containerd.js";
import { createApidControl } from "./services/apid.js";
import { extensionService } from "./services/extension.js";
import { kubelet } from "./services/kubelet.js";
import type { ApplyEnv } from "./apply/apply-env.js";
import { applySystem } from "./apply/apply-system.js";
import { applyEtcFiles } from "./apply/etc-files.js";
import { applyHostname, hostnameFor } from "./apply/hostname.js";
import { type Current, createApplier } from "./apply-config.js";
import type { ConfigStore } from "./config-store.js";
import type { Partition } from "./disks.js";
import type { SlotInfo } from "./slots.js";
import type { KexecPrepared } from "./kexec.js";
import type { Upgrader } from "./upgrade/upgrade.js";
import type { Installer } from "./install/install.js";
import { createInstallTriggers } from "./install/triggers.js";
import { bootConfig } from "./config-sources/boot-config.js";
import type { ConfigSource } from "./config-sources/source.js";
import { configSources } from "./config-sources/sources.js";
import type { EventBus } from "./events.js";
import { generateClientConfiguration } from "./inspect/client-config.js";
import { createInspector } from "./inspect/inspector.js";
import type { ApplyRequest, Machine, RebootMode } from "./machine.js";
import { createNetworkInspector } from "./network/inspect.js";
import type { Network } from "./network/network.js";
import type { PowerAction, PowerDeps } from "./power.js";
import { clearDirs, planReset, type ResetPlan, wipePartitions } from "./reset.js";
import { phase, type Sequencer, task } from "./sequencer.js";
import type { MachineContext } from "./service.js";
import type { Supervisor } from "./supervisor/supervisor.js";
import { version } from "./version.js";

export interface RuntimeDeps {
  ctx: MachineContext;
  applyEnv: ApplyEnv;
  events: EventBus;
  supervisor: Supervisor;
  sequencer: Sequencer;
  store: ConfigStore;
  machineId: string;
  /** Takes the machine down (stop services, unmount, reboot(2)); a reboot's mode defaults to powercycle. */
  powerDown(action: PowerAction, force: boolean, mode?: RebootMode, hooks?: Pick<PowerDeps, "beforeReboot" | "prepareKexec">): Promise<void>;
  log(line: string): void;
  /** Run the network API (apid) as a service; main does, tests of the core leave it out. */
  apid?: boolean;
  /** The network controller (metal only; in the sandbox the host owns the links). */
  network?: Pick<Network, "apply" | "leases">;
  /** Where boot looks for the config, in order (default: configSources() for the platform). */
  configSources?: ConfigSource[];
  /** Resolves true once the network is up (false after `ms`); the kiln.config URL waits on it. */
  waitOnline?: (ms: number) => Promise<boolean>;
  /** The boot slots (metal with a disk; none otherwise). */
  slots?: SlotInfo;
  /** The disk's named partitions (metal; none in the sandbox, whose /sys is the host's): what reset wipes. */
  partitions?: Partition[];
  /** Upgrades and rollbacks (metal with a disk; without one, those RPCs are refused). */
  upgrader?: Upgrader;
  /** Installs kiln to machine.install.disk (metal booted without its disk; none otherwise). */
  installer?: Installer;
}

export interface Runtime extends Machine {
  /** Loads the persisted config and starts what it asks for, or enters maintenance mode. */
  boot(): Promise<void>;
  /** Runs the reboot or shutdown sequence (signals and the API come here). */
  halt(action: PowerAction, force: boolean, mode?: RebootMode): Promise<void>;
  /** Starts a reboot soon: into a kernel already staged for kexec, else a full reboot (upgrade, rollback, install). */
  rebootInto(kexec: KexecPrepared | undefined, force: boolean): void;
}

export function createRuntime(d: RuntimeDeps): Runtime {
  let current: Current | undefined;
  const apid = d.apid ? createApidControl(d) : undefined;
  if (apid) d.supervisor.register(apid.definition);
  const configEvent = (accepted: boolean, message: string, errors: string[], warnings: string[], source = "api") =>
    d.events.publish({ t: "config", source, accepted, errors, warnings, message });
  const halt = (action: PowerAction, force: boolean, mode?: RebootMode, hooks?: Pick<PowerDeps, "prepareKexec">) =>
    d.sequencer.run(action === "reboot" ? "reboot" : "shutdown", [phase("power", task(action, () => d.powerDown(action, force, mode, hooks)))], {
      preempts: ["boot"],
    });
  // Halting after the reply has been sent, so the caller sees it succeed.
  const haltSoon = (action: PowerAction, force: boolean, mode?: RebootMode, hooks?: Pick<PowerDeps, "prepareKexec">) =>
    setTimeout(() => void halt(action, force, mode, hooks).catch((err: Error) => d.log(`${action}: ${err.message}`)), 100);
  // Reset: the config in memory is forgotten and STATE without a partition emptied first; partitions are wiped once unmounted.
  const reset = (p: ResetPlan) => {
    const forget = () => {
      d.events.publish({ t: "machine", stage: p.action === "reboot" ? "rebooting" : "shutting-down", message: `resetting: wiping ${p.targets.join(", ")}` });
      clearDirs(p.dirs, d.log);
      if (p.targets.includes("state")) current = undefined;
    };
    const wipe = () => wipePartitions({ sys: d.ctx.sys, log: d.log }, p.partitions);
    const phases = [phase("forget", task("forget", forget)), phase("power", task(p.action, () => d.powerDown(p.action, p.force, undefined, { beforeReboot: wipe })))];
    return d.sequencer.run("reset", phases, { preempts: ["boot"] });
  };
  const applyLive = async (next: Current, prev: Current | undefined) => {
    const warnings = applySystem(d.applyEnv, prev?.config, next.config, d.machineId);
    if (d.network) warnings.push(...(await d.network.apply(next.config)));
    current = next;
    d.ctx.config = next.config;
    d.ctx.env = next.config.machine.env ?? {};
    await reconcileServices(d, next, prev);
    apid?.afterApply(prev?.config, next.config);
    return warnings;
  };
  // Installing to machine.install.disk (install/triggers.ts): at boot, or on the first ApplyConfiguration.
  const installs = d.installer
    ? createInstallTriggers({
        installer: d.installer,
        events: d.events,
        log: d.log,
        configEvent,
        busy: () => d.sequencer.current(),
        reboot: (k) => haltSoon("reboot", false, k ? "default" : "powercycle", k ? { prepareKexec: () => k } : undefined),
      })
    : undefined;
  const applier = createApplier({
    current: () => current,
    save: (yaml) => d.store.save(yaml),
    applyLive,
    reboot: () => haltSoon("reboot", false),
    configEvent,
    ...(installs ? { install: (next: Current, req: ApplyRequest) => installs.onApply(next.config, next.yaml, req) } : {}),
  });

  return {
    boot: () =>
      d.sequencer.run("boot", [
        phase("config", task("loadConfig", () => bootConfig({ ...bootConfigDeps(d), applyLive, configEvent, ...(installs ? { install: installs.atBoot } : {}) }))),
        ...(apid ? [phase("networkApi", task("startApid", async () => void (await d.supervisor.start("apid"))))] : []),
      ]),
    halt,
    rebootInto: (kexec, force) => haltSoon("reboot", force, kexec ? "default" : "powercycle", kexec ? { prepareKexec: () => kexec } : undefined),
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
    reboot: async (mode: RebootMode, force) => void haltSoon("reboot", force, mode),
    shutdown: async (force) => void haltSoon("poweroff", force),
    upgradeUpload: async (chunk) => upgrader(d).upload(chunk),
    upgrade: (req, signal) => upgrader(d).upgrade(req, signal),
    rollback: async (mode, force) => upgrader(d).rollback(mode, force),
    reset: async (req) => {
      const plan = planReset(req, d.partitions ?? [], d.ctx.paths.state);
      const busy = d.sequencer.current();
      if (busy && busy !== "boot") throw new ApiError(Code.FAILED_PRECONDITION, `sequence "${busy}" is running; try again when it has finished`);
      setTimeout(() => void reset(plan).catch((err: Error) => d.log(`reset: ${err.message}`)), 100);
    },
    applyConfiguration: (req) => applier(req),
    configuration: () => (current ? stringifyConfig(current.config) : undefined),
    ...createInspector({ paths: d.ctx.paths, config: () => current?.config }),
    ...createNetworkInspector(d.ctx.sys),
    generateClientConfiguration: (req) => generateClientConfiguration(current?.config, req),
  };
}

/** The upgrader, or FAILED_PRECONDITION where there is none (no disk, the sandbox). */
function upgrader(d: RuntimeDeps): Upgrader {
  if (!d.upgrader) throw new ApiError(Code.FAILED_PRECONDITION, "this machine has no boot slots (it runs from its boot media or in a sandbox): upgrades need an installed disk");
  return d.upgrader;
}

/** What boot needs to find its config (config-sources/boot-config.ts), but the live apply. */
function bootConfigDeps(d: RuntimeDeps) {
  const sources = d.configSources ?? configSources({ platform: d.ctx.platform, sys: d.ctx.sys, store: d.store, waitOnline: d.waitOnline });
  const enterMaintenance = () => {
    // A DHCP lease may have come first: keep its hostname and nameservers.
    const lease = d.network?.leases()[0];
    const name = hostnameFor(undefined, d.machineId, lease?.hostname);
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
    s.register(kubelet);
  }
  const before = new Map((prev?.config.machine.services ?? []).map((x) => [x.id, x]));
  const after = new Map((next.config.machine.services ?? []).map((x) => [x.id, x]));
  for (const [id, spec] of before) if (!isDeepStrictEqual(after.get(id), spec)) await s.unregister(id);
  for (const [id, spec] of after) if (!isDeepStrictEqual(before.get(id), spec)) s.register(extensionService(spec));
  if (!prev) return void s.startAll();
  for (const [id, spec] of after) if (!isDeepStrictEqual(before.get(id), spec)) void s.start(id);
  if (!isDeepStrictEqual(prev.config.machine.env, next.config.machine.env)) await restartRunning(d);
  else if (kubeletChanged(prev, next)) await restartIfRunning(d, "kubelet");
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
  if (!d.supervisor.status().some((s) => s.id === id)) throw new ApiError(Code.NOT_FOUND, `service "${id}" not found`);
  await d.supervisor[action](id);
  return `service ${id}: ${action} requested`;
}
