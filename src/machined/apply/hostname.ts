// The machine's hostname: config, else DHCP's, else one derived from the
// first link's MAC (stable without a disk), else from the machine id.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import { linkMacOf } from "../machine-id.js";
import type { ApplyEnv } from "./apply-env.js";

/** The hostname the config asks for, else the one a DHCP lease gave, else defaultHostname. */
export function hostnameFor(config: MachineConfig | undefined, machineId: string, leased?: string): string {
  return config?.machine.hostname ?? leased ?? defaultHostname(machineId);
}

/** kiln-<the first physical link's MAC, 12 hex digits>, or kiln-<first 6 of the machine id> without one (the sandbox's veths). */
export function defaultHostname(machineId: string): string {
  return `kiln-${linkMacOf(machineId) ?? machineId.slice(0, 6)}`;
}

/** Sets the kernel hostname (UTS namespace) and writes /etc/hostname. */
export function applyHostname(env: ApplyEnv, hostname: string): void {
  env.sys.sethostname(hostname);
  writeFileSync(join(env.root, "etc/hostname"), `${hostname}\n`, { mode: 0o644 });
}
