// A multi-node cluster's plan, decided before anything starts: its bridge
// and tap names (derived from the cluster's name, at most 15 characters, the
// kernel's IFNAMSIZ), a /24 of 10.5.0.0/16 that no host route and no other
// kiln cluster uses, the host at .1, node i at .(2+i), and a fixed MAC per
// node, so dnsmasq's fixed leases keep every address across reboots.
import { createHash } from "node:crypto";
import { formatIp, parseIp } from "../sandbox/addresses.js";

/** Where cluster networks come from: one /24 each. */
export const clusterRange = { base: parseIp("10.5.0.0")!, prefixLength: 16 };

export type NodeRole = "controlplane" | "worker";

export interface PlannedNode {
  /** cp-1, cp-2…, w-1, w-2…: also the node's hostname. */
  name: string;
  role: NodeRole;
  address: string;
  mac: string;
  tap: string;
}

export interface ClusterPlan {
  cluster: string;
  bridge: string;
  /** The cluster's /24, e.g. "10.5.3.0/24". */
  subnet: string;
  /** The host's address on the bridge (.1), the nodes' gateway. */
  hostAddress: string;
  prefixLength: number;
  nodes: PlannedNode[];
}

/** A prefix as numbers, for overlap checks. */
export interface Net {
  base: number;
  prefixLength: number;
}

/** The 8 hex digits that name a cluster's links. */
function nameHash(cluster: string): string {
  return createHash("sha256").update(cluster).digest("hex").slice(0, 8);
}

/** The bridge of cluster `cluster`: kb-<8 hex digits> (11 characters). */
export function bridgeName(cluster: string): string {
  return `kb-${nameHash(cluster)}`;
}

/** The tap of node `index` (0-based): kt-<hash>-<index>, at most 15 characters. */
export function tapName(cluster: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 999) throw new Error(`Expected a node index between 0 and 999, got ${index}`);
  return `kt-${nameHash(cluster)}-${index}`;
}

/** Whether `link` is one of cluster `cluster`'s (its bridge or a tap). */
export function isClusterLink(cluster: string, link: string): boolean {
  const h = nameHash(cluster);
  return link === `kb-${h}` || new RegExp(`^kt-${h}-\\d{1,3}$`).test(link);
}

/** Node `index`'s MAC: locally administered, unicast (02:), the cluster's hash, the index. */
export function macFor(cluster: string, index: number): string {
  const h = nameHash(cluster);
  const bytes = [0x02, 0x6b, Number.parseInt(h.slice(0, 2), 16), Number.parseInt(h.slice(2, 4), 16), (index >> 8) & 255, index & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** "a.b.c.d/len" as a Net, or undefined for anything else (IPv6, a default route: see overlaps). */
export function parseNet(text: string): Net | undefined {
  if (text === "default") return undefined;
  const [addr, len] = text.split("/");
  const base = parseIp(addr ?? "");
  const prefixLength = len === undefined ? 32 : Number(len);
  if (base === undefined || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) return undefined;
  return { base: (base & mask(prefixLength)) >>> 0, prefixLength };
}

/** Whether two prefixes share any address. A default route (/0) overlaps nothing: it is not a local network. */
export function overlaps(a: Net, b: Net): boolean {
  if (a.prefixLength === 0 || b.prefixLength === 0) return false;
  const len = Math.min(a.prefixLength, b.prefixLength);
  return ((a.base & mask(len)) >>> 0) === ((b.base & mask(len)) >>> 0);
}

/** The first /24 of the range that overlaps none of `taken` (host routes, addresses, other clusters). */
export function chooseSubnet(taken: Net[], range: Net = clusterRange): Net {
  const count = 2 ** (24 - range.prefixLength);
  for (let i = 0; i < count; i++) {
    const candidate = { base: range.base + i * 256, prefixLength: 24 };
    if (!taken.some((t) => overlaps(t, candidate))) return candidate;
  }
  throw new Error(`every /24 of ${formatIp(range.base)}/${range.prefixLength} is in use by a host route or another kiln cluster`);
}

/** The plan for `controlplanes` + `workers` nodes of `cluster` on `subnet`. */
export function planCluster(cluster: string, subnet: Net, controlplanes: number, workers: number): ClusterPlan {
  if (controlplanes < 1 || workers < 0 || controlplanes + workers > 250) {
    throw new Error(`Expected 1 or more control planes, 0 or more workers, at most 250 nodes in all; got ${controlplanes} and ${workers}`);
  }
  const roles: { role: NodeRole; name: string }[] = [
    ...Array.from({ length: controlplanes }, (_, i) => ({ role: "controlplane" as const, name: `cp-${i + 1}` })),
    ...Array.from({ length: workers }, (_, i) => ({ role: "worker" as const, name: `w-${i + 1}` })),
  ];
  return {
    cluster,
    bridge: bridgeName(cluster),
    subnet: `${formatIp(subnet.base)}/24`,
    hostAddress: formatIp(subnet.base + 1),
    prefixLength: 24,
    nodes: roles.map((r, i) => ({ ...r, address: formatIp(subnet.base + 2 + i), mac: macFor(cluster, i), tap: tapName(cluster, i) })),
  };
}

/** The netmask of a prefix length as a (signed) 32-bit number. */
function mask(len: number): number {
  return len === 0 ? 0 : ~0 << (32 - len);
}
