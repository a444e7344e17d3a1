// What boot's tasks work with: the machine's parts, and the runtime's state
// they fill in (partitions, slots, upgrader, machine id, network).
import type { Sys } from "../../../sys/sys.js";
import type { EventBus } from "../../events.js";
import type { MachineApi } from "../../api/server.js";
import type { RuntimeDeps } from "../../runtime.js";
import type { PlatformName } from "../../../machinery/platform.js";

export interface BootEnv {
  sys: Sys;
  platform: PlatformName;
  events: EventBus;
  log(line: string): void;
  /** The runtime's state: boot's tasks fill it in. */
  state: RuntimeDeps;
  /** Asks for a reboot through the lock (a failed upgrade trial). */
  requestReboot(why: string): void;
  /** The machine API, once started (the power-down closes it). */
  api?: MachineApi;
}
