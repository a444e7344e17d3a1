// Applies the system part of a config live: hostname, /etc/hosts (with
// extraHostEntries) and resolv.conf, kernel modules (metal), sysctls, files.
// Only what changed since `prev` is touched.
import { isDeepStrictEqual } from "node:util";
import type { MachineConfig } from "../../config/schema.js";
import { modulesAllowed } from "../platform.js";
import type { ApplyEnv } from "./apply-env.js";
import { applyEtcFiles } from "./etc-files.js";
import { applyFiles } from "./files.js";
import type { Identity } from "../machine-id.js";
import { applyHostname, hostnameFor } from "./hostname.js";
import { applyKernelModules, modulesDir } from "./modules.js";
import { applySysctls } from "./sysctls.js";

/** Applies what changed from prev (undefined: everything) to next; returns warnings. */
export function applySystem(env: ApplyEnv, prev: MachineConfig | undefined, next: MachineConfig, identity: Identity): string[] {
  const warnings: string[] = [];
  const name = hostnameFor(next, identity);
  const names = (c: MachineConfig) => [c.machine.network?.nameservers, c.machine.network?.extraHostEntries];
  if (!prev || hostnameFor(prev, identity) !== name || changed(prev, next, names)) {
    applyHostname(env, name);
    applyEtcFiles(env, name, next, prev);
  }
  // Modules first: a module's sysctls (net.bridge.*) exist only once it is loaded.
  if (modulesAllowed(env.platform)) warnings.push(...applyKernelModules(env.sys, prev, next, modulesDir(env.root)));
  if (!prev || changed(prev, next, (c) => c.machine.sysctls)) warnings.push(...applySysctls(env, next.machine.sysctls ?? {}));
  warnings.push(...applyFiles(env, changedFiles(prev, next)));
  warnings.push(...notYetApplied(env, next));
  return warnings;
}

/** Files that are new or differ from prev. */
function changedFiles(prev: MachineConfig | undefined, next: MachineConfig) {
  const before = new Map((prev?.machine.files ?? []).map((f) => [f.path, f]));
  return (next.machine.files ?? []).filter((f) => !isDeepStrictEqual(before.get(f.path), f));
}

/** Settings this build accepts but does not act on here, said plainly. */
function notYetApplied(env: ApplyEnv, c: MachineConfig): string[] {
  const w: string[] = [];
  if (c.machine.kernel?.modules?.length && !modulesAllowed(env.platform)) {
    w.push(`machine.kernel.modules: not loaded on the ${env.platform} platform (it shares the host's kernel)`);
  }
  // On metal the network controller (src/machined/network/) applies them.
  if (c.machine.network?.interfaces?.length && env.platform === "sandbox") {
    w.push("machine.network.interfaces: not applied on the sandbox platform (the provisioner owns its links)");
  }
  return w;
}

function changed<T>(a: MachineConfig, b: MachineConfig, pick: (c: MachineConfig) => T): boolean {
  return !isDeepStrictEqual(pick(a), pick(b));
}
