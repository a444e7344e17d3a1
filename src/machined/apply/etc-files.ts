// /etc/hosts and /etc/resolv.conf, generated from the hostname and config.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import type { ApplyEnv } from "./apply-env.js";

/** The hosts file for a hostname. */
export function hostsFile(hostname: string): string {
  return [
    "127.0.0.1 localhost",
    `127.0.1.1 ${hostname}`,
    "::1 localhost ip6-localhost ip6-loopback",
    "ff02::1 ip6-allnodes",
    "ff02::2 ip6-allrouters",
    "",
  ].join("\n");
}

/** resolv.conf for the configured nameservers; undefined leaves the image's. */
export function resolvConf(config: MachineConfig | undefined): string | undefined {
  const servers = config?.machine.network?.nameservers ?? [];
  if (servers.length === 0) return undefined;
  return `${servers.map((s) => `nameserver ${s}`).join("\n")}\n`;
}

/** Writes /etc/hosts and (when configured) /etc/resolv.conf. */
export function applyEtcFiles(env: ApplyEnv, hostname: string, config: MachineConfig | undefined): void {
  writeFileSync(join(env.root, "etc/hosts"), hostsFile(hostname), { mode: 0o644 });
  const resolv = resolvConf(config);
  if (resolv !== undefined) writeFileSync(join(env.root, "etc/resolv.conf"), resolv, { mode: 0o644 });
}
