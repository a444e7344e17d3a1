// What the network should look like for a config, and what changes get there
// from what was applied before. Pure: the controller does the netlink calls.
import type { MachineConfig } from "../../config/schema.js";
import type { Link, RouteSpec } from "../../net/rtnetlink.js";

/** One link kiln manages: up, with these static addresses and routes, and maybe DHCP. */
export interface LinkPlan {
  name: string;
  mtu?: number;
  /** Static addresses with their prefix, e.g. "10.0.0.2/24". */
  addresses: string[];
  routes: RouteSpec[];
  dhcp: boolean;
}

/** The links to manage, and what the config asks for that cannot be done. */
export interface NetworkPlan {
  links: LinkPlan[];
  warnings: string[];
}

/** Whether a link can carry DHCP: not loopback, and with a real MAC. */
export function isEthernetLike(l: Link): boolean {
  return l.name !== "lo" && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l.mac) && l.mac !== "00:00:00:00:00:00";
}

/**
 * The plan for a config: its interfaces, each on a link that exists; without
 * `machine.network.interfaces` (or without any config), DHCP on the first
 * Ethernet-like link.
 */
export function planNetwork(config: MachineConfig | undefined, links: Link[]): NetworkPlan {
  const wanted = config?.machine.network?.interfaces;
  if (!wanted?.length) {
    const first = [...links].sort((a, b) => a.index - b.index).find(isEthernetLike);
    return { links: first ? [{ name: first.name, addresses: [], routes: [], dhcp: true }] : [], warnings: [] };
  }
  const names = new Set(links.map((l) => l.name));
  const plan: NetworkPlan = { links: [], warnings: [] };
  wanted.forEach((i, n) => {
    if (!names.has(i.name)) {
      plan.warnings.push(`machine.network.interfaces[${n}].name: no link named \`${i.name}\` (links: ${[...names].join(", ")})`);
      return;
    }
    const routes = (i.routes ?? []).map((r) => routeSpec(i.name, r));
    plan.links.push({ name: i.name, ...(i.mtu ? { mtu: i.mtu } : {}), addresses: i.addresses ?? [], routes, dhcp: i.dhcp });
  });
  return plan;
}

/** A config route as a netlink route on its interface. */
function routeSpec(dev: string, r: { network: string; gateway: string; metric?: number | undefined }): RouteSpec {
  const dst = /^(0\.0\.0\.0|::)\/0$/.test(r.network) ? "default" : r.network;
  return { dst, gateway: r.gateway, dev, ...(r.metric === undefined ? {} : { metric: r.metric }) };
}

/** The steps from one plan to the next, in the order they must run. */
export interface NetworkChanges {
  stopDhcp: string[];
  removeRoutes: RouteSpec[];
  removeAddresses: { link: string; cidr: string }[];
  /** Links no longer managed: set down. */
  down: string[];
  /** Managed links: set up (idempotent), with their MTU when it changed. */
  up: { name: string; mtu?: number }[];
  addAddresses: { link: string; cidr: string }[];
  addRoutes: RouteSpec[];
  startDhcp: string[];
}

/** What to undo and do to go from `prev` (what was applied) to `next`. */
export function diffPlans(prev: LinkPlan[], next: LinkPlan[]): NetworkChanges {
  const before = new Map(prev.map((l) => [l.name, l]));
  const after = new Map(next.map((l) => [l.name, l]));
  const addrs = (plans: LinkPlan[]) => plans.flatMap((l) => l.addresses.map((cidr) => ({ link: l.name, cidr })));
  const routes = (plans: LinkPlan[]) => plans.flatMap((l) => l.routes);
  const addrKey = (a: { link: string; cidr: string }) => `${a.link} ${a.cidr}`;
  const routeKey = (r: RouteSpec) => JSON.stringify([r.dst, r.gateway ?? "", r.dev ?? "", r.metric ?? 0]);
  const minus = <T>(a: T[], b: T[], key: (x: T) => string) => {
    const keys = new Set(b.map(key));
    return a.filter((x) => !keys.has(key(x)));
  };
  const dhcp = (plans: Map<string, LinkPlan>) => [...plans.values()].filter((l) => l.dhcp).map((l) => l.name);
  return {
    stopDhcp: dhcp(before).filter((n) => !after.get(n)?.dhcp),
    removeRoutes: minus(routes(prev), routes(next), routeKey),
    removeAddresses: minus(addrs(prev), addrs(next), addrKey),
    down: prev.filter((l) => !after.has(l.name)).map((l) => l.name),
    up: next.map((l) => (l.mtu !== undefined && l.mtu !== before.get(l.name)?.mtu ? { name: l.name, mtu: l.mtu } : { name: l.name })),
    addAddresses: minus(addrs(next), addrs(prev), addrKey),
    addRoutes: minus(routes(next), routes(prev), routeKey),
    startDhcp: dhcp(after).filter((n) => !before.get(n)?.dhcp),
  };
}
