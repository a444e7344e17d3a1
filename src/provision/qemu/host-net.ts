// A cluster's network on the host, made with iproute2's `ip` (kiln's own
// rtnetlink code, src/net/, cannot create links: it sets up what a machine
// already has): a bridge holding the host's .1, one tap per VM enslaved to
// it, and what the host already routes (so a new cluster's /24 avoids it).
// Everything is named by the cluster (cluster-plan.ts), so destroy can find
// and remove it even when the cluster's state is gone.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import type { ClusterPlan, Net } from "./cluster-plan.js";
import { isClusterLink, parseNet } from "./cluster-plan.js";

/** Runs `ip ARGS`; throws with ip's message, naming iproute2 when it is missing. */
export function ip(args: string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error("ip is not installed: apt-get install iproute2");
    throw new Error(`ip ${args.join(" ")} failed: ${String((err as { stderr?: string }).stderr ?? "").trim() || (err as Error).message}`, { cause: err });
  }
}

/** Every IPv4 prefix the host routes or holds an address in (any table), as Nets. */
export function hostNetworks(): Net[] {
  const routes = JSON.parse(ip(["-j", "-4", "route", "show", "table", "all"]) || "[]") as { dst?: string }[];
  const addrs = JSON.parse(ip(["-j", "-4", "addr", "show"]) || "[]") as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  const texts = [
    ...routes.map((r) => r.dst ?? ""),
    ...addrs.flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`)),
  ];
  return texts.flatMap((t) => {
    const n = parseNet(t);
    return n ? [n] : [];
  });
}

/** Whether network link `name` exists on the host. */
export function linkExists(name: string): boolean {
  return hostLinks().includes(name);
}

/** The host's link names. */
export function hostLinks(): string[] {
  return readdirSync("/sys/class/net");
}

/** The bridge, up, with the host's address; STP off, so ports forward at once. */
export function createBridge(plan: ClusterPlan): void {
  ip(["link", "add", plan.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
  ip(["link", "set", "dev", plan.bridge, "alias", `kiln-cluster:${plan.cluster}`]);
  ip(["addr", "add", `${plan.hostAddress}/${plan.prefixLength}`, "dev", plan.bridge]);
  ip(["link", "set", "dev", plan.bridge, "up"]);
}

/** A persistent tap for one VM, enslaved to the bridge and up (QEMU opens it by name). */
export function createTap(bridge: string, tap: string): void {
  ip(["tuntap", "add", "dev", tap, "mode", "tap"]);
  ip(["link", "set", "dev", tap, "master", bridge]);
  ip(["link", "set", "dev", tap, "up"]);
}

/** The links of cluster `cluster` on this host now (its bridge and taps). */
export function clusterLinks(cluster: string): string[] {
  return hostLinks().filter((l) => isClusterLink(cluster, l));
}

/** Removes cluster `cluster`'s taps and bridge, whatever is left of them. */
export function removeClusterLinks(cluster: string): string[] {
  const mine = clusterLinks(cluster);
  // taps first: a bridge goes with its ports detached anyway, but a tap would stay
  const ordered = [...mine.filter((l) => l.startsWith("kt-")), ...mine.filter((l) => l.startsWith("kb-"))];
  for (const link of ordered) {
    if (linkExists(link)) ip(["link", "delete", "dev", link]);
  }
  return ordered;
}
