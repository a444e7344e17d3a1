// host-gw pod routes: each other node's spec.podCIDR via its InternalIP, so
// pods reach pods on other nodes without encapsulation (the nodes share an L2
// network). The routes are marked with RTPROT_KILN: the reconciler lists,
// adds and removes routes of that protocol only, and never another's.
import { isIPv4 } from "node:net";
import { goneOk, RTPROT_KILN, type Route, type Rtnetlink } from "../../net/rtnetlink.js";

/** A Node, as far as pod routes read it (the API's own shape). */
export interface PodRouteNode {
  metadata?: { name?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

/** One route kiln wants: a node's pod CIDR via its address. */
export interface PodRoute {
  dst: string;
  gateway: string;
  /** The node it leads to (for logs). */
  node: string;
}

/** The routes to every other node's IPv4 pod CIDR via its IPv4 InternalIP, sorted by destination; nodes lacking either are left out. */
export function podRoutes(nodes: readonly PodRouteNode[], self: string): PodRoute[] {
  const routes: PodRoute[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name ?? "";
    if (!name || name === self) continue;
    const cidr = [n.spec?.podCIDR, ...(n.spec?.podCIDRs ?? [])].find((c) => c && isIPv4(c.split("/")[0] ?? ""));
    const ip = n.status?.addresses?.find((a) => a.type === "InternalIP" && isIPv4(a.address))?.address;
    if (cidr && ip) routes.push({ dst: cidr, gateway: ip, node: name });
  }
  return routes.sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
}

/** What to change: routes of ours that no longer fit (removed first), and routes to add. */
export interface PodRouteDiff {
  remove: { dst: string; gateway: string }[];
  add: PodRoute[];
}

/** The diff from `have` (the kernel's routes of protocol kiln) to `want`. */
export function diffPodRoutes(want: readonly PodRoute[], have: readonly Pick<Route, "dst" | "gateway">[]): PodRouteDiff {
  const key = (r: { dst: string; gateway: string }) => `${r.dst} via ${r.gateway}`;
  const wanted = new Set(want.map(key));
  const present = new Set(have.map(key));
  return {
    remove: have.filter((r) => !wanted.has(key(r))).map((r) => ({ dst: r.dst, gateway: r.gateway })),
    add: want.filter((r) => !present.has(key(r))),
  };
}

/** What one reconcile did, and what failed (a route whose gateway is not on a connected network, one another owns). */
export interface ReconcileResult {
  added: string[];
  removed: string[];
  warnings: string[];
}

/** Brings the kernel's kiln routes in line with `nodes`; each failure is a warning, the rest goes on. */
export function reconcilePodRoutes(nl: Pick<Rtnetlink, "routeAdd" | "routeDel" | "routeList">, nodes: readonly PodRouteNode[], self: string): ReconcileResult {
  const have = nl.routeList().filter((r) => r.family === 4 && r.protocol === "kiln");
  const diff = diffPodRoutes(podRoutes(nodes, self), have);
  const result: ReconcileResult = { added: [], removed: [], warnings: [] };
  for (const r of diff.remove) {
    const text = `${r.dst} via ${r.gateway}`;
    if (attempt(result, text, () => goneOk(() => nl.routeDel({ ...r, protocol: RTPROT_KILN })))) result.removed.push(text);
  }
  for (const r of diff.add) {
    const text = `${r.dst} via ${r.gateway} (node ${r.node})`;
    // EEXIST is a warning: the destination has a route of another's, which stays.
    if (attempt(result, text, () => nl.routeAdd({ dst: r.dst, gateway: r.gateway, protocol: RTPROT_KILN }))) result.added.push(text);
  }
  return result;
}

/** Runs one change; a failure becomes a warning naming the route. */
function attempt(result: ReconcileResult, text: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    result.warnings.push(`${text}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}
