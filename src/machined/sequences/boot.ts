// The boot sequence: from machined's first line to a machine that runs its
// config (or waits in maintenance mode). Early mounts, the reaper and the
// signal handlers come before it (main.ts); everything after is here, so the
// boot timeline (`kilnctl get sequences`) accounts for the whole boot.
//
//   disks       STATE and EPHEMERAL mounted, boot slots read, the upgrader
//   identity    the machine id
//   network     links up, DHCP in the background (metal)
//   api         the machine API's sockets ‖ an upgrade's trial or rollback
//   config      the config found and applied, or maintenance
//   networkApi  apid started
//   install     the install the config asks for, then the reboot into the disk
//   runtimeModules  bridges, netfilter and their sysctls, in the background once apid answers
import type { BootNext } from "../config-sources/boot-config.js";
import { type Phase, phase, task } from "./runner.js";

export interface BootSteps {
  mountDisks(): void;
  loadIdentity(): void;
  startNetwork(): void;
  startMachineApi(): Promise<void>;
  checkUpgrade(): void;
  loadConfig(signal: AbortSignal): Promise<BootNext>;
  /** Starts loading them in the background (services/runtime-modules.ts is what waits). */
  loadRuntimeModules(): Promise<void>;
  startApid(): Promise<void>;
}

export function bootSequence(s: BootSteps): Phase[] {
  let next: BootNext = {};
  return [
    phase("disks", task("mountDisks", () => s.mountDisks())),
    phase("identity", task("loadIdentity", () => s.loadIdentity())),
    phase("network", task("startNetwork", () => s.startNetwork())),
    phase("api", task("startMachineApi", () => s.startMachineApi()), task("checkUpgrade", () => s.checkUpgrade())),
    phase(
      "config",
      task("loadConfig", async (ctx) => {
        next = await s.loadConfig(ctx.signal);
      }),
    ),
    // apid does not need the runtime modules (the kubelet and kube-proxy wait for them): they load once it answers.
    phase("networkApi", task("startApid", () => s.startApid())),
    phase("install", task("installToDisk", () => next.install?.())),
    phase("runtimeModules", task("loadRuntimeModules", () => s.loadRuntimeModules())),
  ];
}
