// The machine's hostname: config, else DHCP's, else one derived from the machine id.
import type { MachineConfig } from "../../config/schema.js";
import type { ApplyEnv } from "./apply-env.js";

/** The hostname the config asks for, else the one a DHCP lease gave, else kiln-<first 6 of the machine id>. */
export function hostnameFor(config: MachineConfig | undefined, machineId: string, leased?: string): string {
  return config?.machine.hostname ?? leased ?? `kiln-${machineId.slice(0, 6)}`;
}

/** Sets the kernel hostname (UTS namespace). */
export function applyHostname(env: ApplyEnv, hostname: string): void {
  env.sys.sethostname(hostname);
}
