// machined: PID 1 of a kiln machine. main() reads as a table of contents;
// each step lives in its own module.
import { mountAll, mountTable } from "../init/mounts.js";
import { startReaper, becomeSubreaper } from "../init/reaper.js";
import { disableCtrlAltDel, installSignalHandlers } from "../init/signals.js";
import { apidOwner, apidPaths } from "./services/apid.js";
import { startMachineApi } from "./api/server.js";
import { createLibcSys } from "../sys/libc.js";
import { createConfigStore } from "./config-store.js";
import { createEventBus } from "./event-bus.js";
import { createLogStore } from "./logs/log-store.js";
import { loadMachineId } from "./machine-id.js";
import { startNetwork } from "./network/network.js";
import { loadRuntimeModules } from "./apply/modules.js";
import { uptimeStamp } from "../init/uptime.js";
import { mountDisks, namedPartitions } from "./disks.js";
import { readSlots } from "./slots.js";
import { extractBundle } from "../machinery/upgrade-bundle.js";
import { espGrubenv } from "./upgrade/grubenv-file.js";
import { writeSlot } from "./upgrade/slot-writer.js";
import { createUpgrader } from "./upgrade/upgrade.js";
import { installerForBoot } from "./install/install.js";
import { createUploads } from "./upgrade/uploads.js";
import { RUNTIME_MODULES } from "../machinery/modules-list.js";
import { createPaths } from "./paths.js";
import { detectPlatform } from "./platform.js";
import { emergencyReboot, powerDown } from "./power.js";
import { prepareKexec } from "./kexec.js";
import { createRuntime, type Runtime } from "./runtime.js";
import { createSequencer } from "./sequencer.js";
import type { MachineContext } from "./service.js";
import { createSupervisor } from "./supervisor/supervisor.js";
import { kilnVersion } from "./version.js";

const onMetal = detectPlatform() === "metal";
/** Upgrade bundles on their way in, on EPHEMERAL. */
const UPLOAD_DIR = "/var/lib/kiln/upgrade";

/** machined's console: stdout, one line per message; on metal stamped with the uptime, as the kernel's. */
function log(line: string): void {
  process.stdout.write(`${onMetal ? uptimeStamp() : ""}[machined] ${line}\n`);
}

async function main(): Promise<void> {
  const sys = createLibcSys();
  const platform = detectPlatform();
  log(`kiln ${kilnVersion} starting on ${platform} as pid ${process.pid}`);
  let halt: (action: "reboot" | "poweroff") => void = () => emergencyReboot(sys, new Error("signal before boot finished"), log);
  installSignalHandlers({
    onShutdown: (why) => {
      log(`shutdown: ${why}`);
      halt("poweroff");
    },
    onReboot: (why) => {
      log(`reboot: ${why}`);
      halt("reboot");
    },
    onFatal: (err) => emergencyReboot(sys, err, log),
    sigintMeansReboot: platform === "metal" && disableCtrlAltDel(sys),
    log,
  });
  if (process.pid !== 1) becomeSubreaper(sys);
  mountAll(sys, mountTable(platform), log);
  // STATE and EPHEMERAL, when the machine has its disk (before anything reads /system/state).
  const partitions = platform === "metal" ? namedPartitions() : [];
  const disks = platform === "metal" ? mountDisks({ sys, log, partitions }) : [];
  const slots = partitions.length ? readSlots({ sys, partitions, log }) : undefined;
  if (slots?.slot) log(`booted slot ${slots.slot} (${slots.bootMode || "committed"}); slots: ${slots.slots.map((s) => `${s.name}=${s.version || "empty"}`).join(", ")}`);
  const reaper = startReaper({ sys, onError: (err) => log(`reaper: ${err.message}`) });

  const paths = createPaths();
  const events = createEventBus({ capacity: 1000 });
  events.publish({ t: "machine", stage: "booting", message: `kiln ${kilnVersion} on ${platform}` });
  const machineId = loadMachineId(paths.state);
  // Metal configures its own links (DHCP in the background); the sandbox's host owns them.
  const network = platform === "metal" ? startNetwork({ sys, events, log, applyEnv: { sys, platform, root: "/" }, machineId }) : undefined;
  const ctx: MachineContext = { paths, platform, sys, config: undefined, env: {} };
  const logs = createLogStore({ dir: paths.logDir });
  const supervisor = createSupervisor({ context: ctx, events, logs });
  const sequencer = createSequencer(events);
  // Booted from kernel+initramfs or media: a config naming machine.install.disk installs kiln there.
  const installer = installerForBoot(platform, { sys, log, events });
  let api: { close(): Promise<void> } | undefined;
  let rebootInto: Runtime["rebootInto"] = () => log("upgrade: reboot asked before the runtime was up");
  const upgrader = slots?.slot
    ? createUpgrader({
        log,
        events,
        stateDir: paths.state,
        uploads: disks.some((r) => r.label === "EPHEMERAL" && r.outcome !== "absent" && r.outcome !== "failed") ? createUploads(UPLOAD_DIR) : undefined,
        partitions,
        slots,
        runningVersion: kilnVersion,
        services: () => supervisor.status(),
        grubenv: espGrubenv({ sys, partitions, log }),
        extract: (tar, dir) => extractBundle(tar, dir),
        writeSlot: (device, label, bundle) => writeSlot({ sys, log }, device, label, bundle),
        prepareKexec: (target) => prepareKexec({ sys, log, partitions }, target),
        reboot: (kexec, force) => rebootInto(kexec, force),
        busy: () => sequencer.current(),
      })
    : undefined;
  const runtime = createRuntime({
    ctx,
    ...(slots ? { slots } : {}),
    partitions,
    applyEnv: { sys, platform, root: "/" },
    events,
    supervisor,
    sequencer,
    store: createConfigStore(paths.state),
    machineId,
    powerDown: (action, force, mode, hooks) =>
      powerDown(
        {
          sys,
          events,
          log,
          stopServices: () => supervisor.stopAll(),
          closeApi: async () => api?.close(),
          stopReaper: () => reaper.stop(),
          closeLogs: () => logs.close(),
          ...(platform === "metal" ? { prepareKexec: () => (upgrader ? upgrader.rebootKexec() : prepareKexec({ sys, log })) } : {}),
          ...hooks,
        },
        action,
        force,
        mode,
      ),
    log,
    apid: true,
    network,
    waitOnline: network?.waitOnline,
    ...(installer ? { installer } : {}),
    ...(upgrader ? { upgrader } : {}),
  });
  rebootInto = (kexec, force) => runtime.rebootInto(kexec, force);
  upgrader?.atBoot();
  halt = (action) => void runtime.halt(action, false).catch((err: Error) => log(`${action}: ${err.message}`));
  // A second socket for apid alone (its user owns it): apid forwards what it admits.
  const apidSocket = { path: apidPaths(ctx).machinedSocket, owner: apidOwner() };
  api = await startMachineApi(runtime, [{ path: paths.apiSocket }, apidSocket]);
  log(`machine API on ${paths.apiSocket} and, for apid, ${apidSocket.path}`);
  // Bridges and netfilter are for pods, not for booting: load them alongside.
  const modules = platform === "metal" ? loadRuntimeModules(sys, RUNTIME_MODULES, log) : Promise.resolve();
  await runtime.boot();
  await modules;
}

main().catch((err: unknown) => {
  // PID 1 must never exit: a failed boot is fatal, so sync and reboot.
  emergencyReboot(createLibcSys(), err, log);
});
