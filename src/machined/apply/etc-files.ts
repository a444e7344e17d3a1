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

const nameserversOf = (c: MachineConfig | undefined) => c?.machine.network?.nameservers ?? [];

/**
 * resolv.conf for the configured nameservers. With none, undefined leaves the
 * image's file alone — unless a previous config had some: those must go.
 */
export function resolvConf(config: MachineConfig | undefined, prev?: MachineConfig): string | undefined {
  const servers = nameserversOf(config);
  if (servers.length === 0) return nameserversOf(prev).length ? "# no nameservers configured (machine.network.nameservers)\n" : undefined;
  return `${servers.map((s) => `nameserver ${s}`).join("\n")}\n`;
}

/** Writes /etc/hosts and (when configured) /etc/resolv.conf. */
export function applyEtcFiles(env: ApplyEnv, hostname: string, config: MachineConfig | undefined, prev?: MachineConfig): void {
  writeFileSync(join(env.root, "etc/hosts"), hostsFile(hostname), { mode: 0o644 });
  const resolv = resolvConf(config, prev);
  if (resolv !== undefined) writeFileSync(join(env.root, "etc/resolv.conf"), resolv, { mode: 0o644 });
}
