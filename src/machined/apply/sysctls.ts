// Kernel parameters from machine.sysctls, written under /proc/sys.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sysctlAllowed } from "../platform.js";
import type { ApplyEnv } from "./apply-env.js";

/** /proc/sys path of a dotted sysctl name; '/' stands for a '.' inside one part (eth0/100 → eth0.100), as in sysctl.conf. */
export function sysctlPath(root: string, key: string): string {
  return join(root, "proc/sys", ...key.split(".").map((part) => part.replaceAll("/", ".")));
}

/** Writes each sysctl; returns warnings for those skipped or refused by the kernel. */
export function applySysctls(env: ApplyEnv, sysctls: Record<string, string>): string[] {
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(sysctls)) {
    if (!sysctlAllowed(env.platform, key)) {
      warnings.push(`sysctl ${key}: skipped on the ${env.platform} platform (it is not namespaced and would change the host)`);
      continue;
    }
    try {
      writeFileSync(sysctlPath(env.root, key), value);
    } catch (err) {
      warnings.push(`sysctl ${key}=${value}: ${(err as Error).message}`);
    }
  }
  return warnings;
}
