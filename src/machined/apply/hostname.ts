// The machine's hostname: config, else DHCP's, else one derived from the
// first link's MAC (stable without a disk), else from the machine id.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import type { Identity } from "../machine-id.js";
import type { ApplyEnv } from "./apply-env.js";

/** The hostname the config asks for, else the one a DHCP lease gave, else the machine's default (machine-id.ts). */
export function hostnameFor(config: MachineConfig | undefined, identity: Identity, leased?: string): string {
  return config?.machine.hostname ?? leased ?? identity.defaultHostname;
}

/** Sets the kernel hostname (UTS namespace) and writes /etc/hostname. */
export function applyHostname(env: ApplyEnv, hostname: string): void {
  env.sys.sethostname(hostname);
  writeFileSync(join(env.root, "etc/hostname"), `${hostname}\n`, { mode: 0o644 });
}
