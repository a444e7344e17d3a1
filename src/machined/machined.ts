// machined's parts, wired: the event bus, the supervisor and its logs, the
// one lock (the sequence runner, whose reboot requests power.ts carries
// out), the runtime the API calls, and the boot sequence's steps. Nothing
// here does I/O; boot's tasks do.
import { RUNTIME_MODULES, RUNTIME_SYSCTLS } from "../machinery/modules-list.js";
import type { Sys } from "../sys/sys.js";
import { loadRuntimeModules } from "./apply/modules.js";
import { apidSettled } from "./services/apid-settled.js";
import { applySysctls } from "./apply/sysctls.js";
import { createConfigStore } from "./config-store.js";
import { kindOf } from "./errors.js";
import { createEventBus } from "./event-bus.js";
import { installerForBoot } from "./install/install.js";
import { prepareKexec } from "./kexec.js";
import { createLogStore } from "./logs/log-store.js";
import { loadIdentity } from "./machine-id.js";
import { createPaths } from "./paths.js";
import { type PowerAction, powerDown } from "./power.js";
import { createConfigParser } from "./config-parser.js";
import { createRuntime, type RuntimeDeps } from "./runtime.js";
import { bootSequence } from "./sequences/boot.js";
import type { RebootRequest } from "./sequences/reboot-request.js";
import { createRunner } from "./sequences/runner.js";
import type { BootEnv } from "./sequences/tasks/boot-env.js";
import { mountDisksTask } from "./sequences/tasks/mount-disks.js";
import { startMachineApiTask } from "./sequences/tasks/start-machine-api.js";
import { startNetworkTask } from "./sequences/tasks/start-network.js";
import type { PlatformName } from "../machinery/platform.js";
import type { MachineContext } from "./service.js";
import { createSupervisor, type Supervisor } from "./supervisor/supervisor.js";
import { createTimeSync } from "./time/time-sync.js";

export interface MachinedDeps {
  sys: Sys;
  platform: PlatformName;
  log(line: string): void;
  /** The orphan reaper, stopped by the power-down before /proc goes. */
  reaper: { stop(): void };
}

export interface Machined {
  /** Runs the boot sequence. */
  boot(): Promise<void>;
  /** A reboot or shutdown from a signal, through the lock. */
  request(action: PowerAction, why: string): void;
  /** Starts apid's process before the boot asks for it: its node loads while the boot runs up to it. */
  prespawnApid(): void;
}

/**
 * apid's certificates were issued by the clock before a step (a year off, they
 * are not yet valid or already expired): reissue them. Also while apid is
 * still preparing: the first apply starts it alongside the first sync.
 */
function restartApidAfterStep(supervisor: Supervisor, log: (line: string) => void): void {
  const active = supervisor.status().some((s) => s.id === "apid" && ["Waiting", "Preparing", "Running"].includes(s.state));
  if (active) void supervisor.restart("apid").catch((err: Error) => log(`time: restarting apid after the step: ${err.message}`));
}

/** The longest the runtime modules wait for apid to answer (it takes ~2 s of a boot under TCG). */
const apidSettleCapMs = 10_000;

export function createMachined(m: MachinedDeps): Machined {
  const { sys, platform, log } = m;
  const paths = createPaths();
  const events = createEventBus({ capacity: 1000 });
  let runtimeModulesDone = () => {};
  const runtimeModules = new Promise<void>((resolve) => {
    runtimeModulesDone = resolve;
  });
  const ctx: MachineContext = { paths, platform, sys, config: undefined, env: {}, runtimeModules };
  const logs = createLogStore({ dir: paths.logDir });
  const supervisor = createSupervisor({ context: ctx, events, logs });
  const halt = (req: RebootRequest) =>
    powerDown(
      {
        sys,
        events,
        log,
        stopServices: () => supervisor.stopAll(),
        closeApi: async () => b.api?.close(),
        stopReaper: () => m.reaper.stop(),
        closeLogs: () => logs.close(),
        ...(platform === "metal" ? { prepareKexec: async () => req.kexec ?? (state.upgrader ? state.upgrader.rebootKexec() : prepareKexec({ sys, log })) } : {}),
        ...(req.beforeReboot ? { beforeReboot: req.beforeReboot } : {}),
      },
      req.action,
      req.force,
      req.mode,
    );
  const runner = createRunner({ events, log, halt });
  const installer = installerForBoot(platform, { sys, log, events });
  const state: RuntimeDeps = {
    ctx,
    applyEnv: { sys, platform, root: "/" },
    events,
    supervisor,
    runner,
    store: createConfigStore(paths.state),
    identity: { machineId: "", defaultHostname: "" },
    log,
    apid: true,
    // The sandbox's clock is the host's: measured and shown, never set.
    timeSync: createTimeSync({ sys, log, adjust: platform === "metal", onStep: () => restartApidAfterStep(supervisor, log) }),
    ...(installer ? { installer } : {}),
    // A caller's config is parsed in a worker thread: a costly one never stalls the API.
    parseConfig: createConfigParser().parse,
  };
  const runtime = createRuntime(state);
  const b: BootEnv = { sys, platform, events, log, state, requestReboot: (why) => runtime.request("reboot", why, "powercycle") };
  const boot = bootSequence({
    mountDisks: () => mountDisksTask(b),
    loadIdentity: () => {
      state.identity = loadIdentity(paths.state);
    },
    startNetwork: () => startNetworkTask(b),
    startMachineApi: () => startMachineApiTask(b, runtime),
    checkUpgrade: () => state.upgrader?.atBoot(),
    loadConfig: (signal) => runtime.loadConfig(signal),
    // Bridges and netfilter are for pods, not for booting: loaded in the
    // background once apid answers (services/apid-settled.ts), so the boot
    // sequence does not hold the lock for them; then forwarding and bridge
    // netfilter on. kubelet waits for both (services/runtime-modules.ts).
    loadRuntimeModules: async () => {
      void (platform === "metal" ? apidSettled(() => supervisor.status(), apidSettleCapMs).then(() => loadRuntimeModules(sys, RUNTIME_MODULES, log)) : Promise.resolve())
        .then(() => {
          for (const w of applySysctls(state.applyEnv, RUNTIME_SYSCTLS)) log(`runtime sysctls: ${w}`);
        })
        .finally(runtimeModulesDone);
    },
    startApid: () => runtime.startApid(),
  });
  return {
    boot: async () => {
      events.publish({ t: "machine", stage: "booting", message: `kiln on ${platform}` });
      // A reboot or shutdown may preempt the boot: that is not a failed boot.
      await runner.run("boot", boot, { label: "boot" }).catch((err: unknown) => {
        if (kindOf(err) !== "cancelled") throw err;
        log(`boot: ${(err as Error).message}`);
      });
    },
    request: (action, why) => void runtime.request(action, why),
    prespawnApid: () => runtime.prespawnApid(),
  };
}
