// /etc/hosts and /etc/resolv.conf, generated from the hostname and config
// (machine.network.extraHostEntries, machine.network.nameservers).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostEntry, MachineConfig } from "../../config/schema.js";
import type { ApplyEnv } from "./apply-env.js";

/** The hosts file for a hostname, then machine.network.extraHostEntries one line each. */
export function hostsFile(hostname: string, extra: readonly HostEntry[] = []): string {
  return [
    "127.0.0.1 localhost",
    `127.0.1.1 ${hostname}`,
    "::1 localhost ip6-localhost ip6-loopback",
    "ff02::1 ip6-allnodes",
    "ff02::2 ip6-allrouters",
    ...(extra.length ? ["# machine.network.extraHostEntries", ...extra.map((e) => `${e.ip} ${e.aliases.join(" ")}`)] : []),
    "",
  ].join("\n");
}

const nameserversOf = (c: MachineConfig | undefined) => c?.machine.network?.nameservers ?? [];

/** Nameservers a DHCP lease gave, and whether earlier leases had given some (their file must go). */
export interface LeasedNameservers {
  now: string[];
  before: boolean;
}

/**
 * resolv.conf: the configured nameservers win, else DHCP's. With neither,
 * undefined leaves the image's file alone — unless a previous config or lease
 * had some: those must go.
 */
export function resolvConf(config: MachineConfig | undefined, prev?: MachineConfig, leased?: LeasedNameservers): string | undefined {
  const servers = nameserversOf(config);
  const lines = (list: string[]) => list.map((s) => `nameserver ${s}`).join("\n");
  if (servers.length) return `${lines(servers)}\n`;
  if (leased?.now.length) return `# from DHCP (machine.network.nameservers is empty)\n${lines(leased.now)}\n`;
  if (nameserversOf(prev).length || leased?.before) return "# no nameservers configured (machine.network.nameservers)\n";
  return undefined;
}

/** Writes /etc/hosts and (when configured or leased) /etc/resolv.conf. */
export function applyEtcFiles(env: ApplyEnv, hostname: string, config: MachineConfig | undefined, prev?: MachineConfig, leased?: LeasedNameservers): void {
  writeFileSync(join(env.root, "etc/hosts"), hostsFile(hostname, config?.machine.network?.extraHostEntries), { mode: 0o644 });
  const resolv = resolvConf(config, prev, leased);
  if (resolv !== undefined) writeFileSync(join(env.root, "etc/resolv.conf"), resolv, { mode: 0o644 });
}
