// The network controller for metal: loopback up, then the links a config asks
// for (up, MTU, static addresses and routes, DHCP), or DHCP on the first
// Ethernet-like link when there is no config or it names no interfaces.
// A new config is applied as a diff against what this controller did before.
// Hostname and resolv.conf take DHCP's values when the config gives none.
// Errors are logged, evented and returned as warnings; none is fatal to PID 1.
import type { MachineConfig } from "../../config/schema.js";
import { type DhcpClient, type DhcpClientOptions, type DhcpEvent, type Lease, INFINITE_LEASE, startDhcpClient } from "../../net/dhcp-client.js";
import { type Address, existsOk, goneOk, type Link, openRtnetlink, type Route, type Rtnetlink } from "../../net/rtnetlink.js";
import type { Sys } from "../../sys/sys.js";
import type { ApplyEnv } from "../apply/apply-env.js";
import { applyEtcFiles } from "../apply/etc-files.js";
import { applyHostname, hostnameFor } from "../apply/hostname.js";
import type { Identity } from "../machine-id.js";
import type { EventBus, EventPayload, NetworkEventKind } from "../events.js";
import { diffPlans, isEthernetLike, type LinkPlan, type NetworkChanges, planNetwork } from "./plan.js";

export interface NetworkDeps {
  sys: Sys;
  events: EventBus;
  log(line: string): void;
  /** Where hostname, /etc/hosts and /etc/resolv.conf are written. */
  applyEnv: ApplyEnv;
  /** Names the machine when neither the config nor a lease does. */
  identity: Identity;
  /** Tests: DHCP timings and transport, a fake client, a fake netlink. */
  dhcp?: Pick<DhcpClientOptions, "timeoutMs" | "retryMs" | "retransmitMs" | "openTransport">;
  startDhcp?: (o: DhcpClientOptions) => DhcpClient;
  openNetlink?: (sys: Sys) => Rtnetlink;
  /** How long to wait for a first Ethernet-like link to appear (default 60 s), polling every 500 ms. */
  linkWaitMs?: number;
}

export interface NetworkStatus {
  links: Link[];
  addresses: Address[];
  routes: Route[];
}

export interface Network {
  /** Brings the network in line with `config` (undefined: maintenance mode); returns warnings. */
  apply(config: MachineConfig | undefined): Promise<string[]>;
  status(): NetworkStatus;
  /** The DHCP leases held now. */
  leases(): Lease[];
  /** True once a non-loopback address and a default route exist; false after `timeoutMs`. */
  waitOnline(timeoutMs: number): Promise<boolean>;
  /** Stops DHCP (removing its addresses) and closes the netlink socket. */
  stop(): Promise<void>;
}

interface State {
  config: MachineConfig | undefined;
  applied: LinkPlan[];
  clients: Map<string, DhcpClient>;
  leases: Map<string, Lease>;
  /** Hostname or nameservers from a lease were written: when leases go, they must be replaced. */
  leasedNames: boolean;
  linkWatch?: NodeJS.Timeout;
}

/** Starts the controller: loopback up now, DHCP on the first link in the background until apply() says otherwise. */
export function startNetwork(d: NetworkDeps): Network {
  const nl = (d.openNetlink ?? openRtnetlink)(d.sys);
  const s: State = { config: undefined, applied: [], clients: new Map(), leases: new Map(), leasedNames: false };
  const warn = step(d);
  warn("lo", () => nl.linkSetUp("lo"));
  let chain: Promise<unknown> = Promise.resolve();
  const apply = (config: MachineConfig | undefined): Promise<string[]> => {
    const run = chain.then(() => applyConfig(d, nl, s, config, apply));
    chain = run.catch(() => undefined);
    return run.catch((err: unknown) => [`network: ${messageOf(err)}`]);
  };
  void apply(undefined);
  return {
    apply,
    status: () => ({ links: nl.linkList(), addresses: nl.addrList(), routes: nl.routeList() }),
    leases: () => [...s.leases.values()],
    waitOnline: (ms) => waitOnline(nl, ms),
    stop: async () => {
      clearInterval(s.linkWatch);
      await chain;
      for (const c of s.clients.values()) await c.stop();
      s.clients.clear();
      nl.close();
    },
  };
}

/** One apply: plan, diff against what was applied, run the steps, refresh hostname and resolv.conf. */
async function applyConfig(d: NetworkDeps, nl: Rtnetlink, s: State, config: MachineConfig | undefined, again: (c: MachineConfig | undefined) => unknown) {
  s.config = config;
  clearInterval(s.linkWatch);
  const links = nl.linkList();
  const plan = planNetwork(config, links);
  if (!config?.machine.network?.interfaces?.length && plan.links.length === 0) watchForLink(d, nl, s, () => again(s.config));
  const warnings = [...plan.warnings, ...(await runChanges(d, nl, s, diffPlans(s.applied, plan.links), links))];
  s.applied = plan.links;
  refreshNames(d, s);
  for (const w of warnings) d.log(`network: ${w}`);
  return warnings;
}

/** Runs the steps of a diff in order; each failure becomes a warning and an event. */
async function runChanges(d: NetworkDeps, nl: Rtnetlink, s: State, c: NetworkChanges, links: Link[]): Promise<string[]> {
  const warnings: string[] = [];
  const run = step(d, warnings);
  for (const link of c.stopDhcp) await stopDhcp(d, s, link);
  for (const r of c.removeRoutes) run(r.dev ?? "", () => goneOk(() => nl.routeDel(r)));
  for (const a of c.removeAddresses) {
    if (run(a.link, () => goneOk(() => nl.addrDel(a.link, a.cidr)))) event(d, "address-removed", a.link, `${a.cidr} (static)`, a.cidr, "static");
  }
  for (const link of c.down) if (run(link, () => nl.linkSetDown(link))) event(d, "link-down", link, "no longer configured");
  const wasUp = new Set(links.filter((l) => l.up).map((l) => l.name));
  for (const l of c.up) {
    if (l.mtu !== undefined) run(l.name, () => nl.linkSetMtu(l.name, l.mtu as number));
    if (!wasUp.has(l.name) && run(l.name, () => nl.linkSetUp(l.name))) event(d, "link-up", l.name, "up");
  }
  for (const a of c.addAddresses) {
    if (run(a.link, () => existsOk(() => nl.addrAdd(a.link, a.cidr)))) event(d, "address-added", a.link, `${a.cidr} (static)`, a.cidr, "static");
  }
  for (const r of c.addRoutes) run(r.dev ?? "", () => existsOk(() => nl.routeAdd(r)));
  for (const link of c.startDhcp) startDhcp(d, nl, s, links.find((l) => l.name === link)?.mac ?? "", link);
  return warnings;
}

/** Starts a DHCP client on `link`, its events turned into machine events. */
function startDhcp(d: NetworkDeps, nl: Rtnetlink, s: State, mac: string, link: string): void {
  d.log(`network: DHCP on ${link} (${mac})`);
  const onEvent = (e: DhcpEvent) => onDhcpEvent(d, s, link, e);
  s.clients.set(link, (d.startDhcp ?? startDhcpClient)({ link, mac, nl, onEvent, ...d.dhcp }));
}

/** Stops `link`'s DHCP client, which removes its address and route. */
async function stopDhcp(d: NetworkDeps, s: State, link: string): Promise<void> {
  await s.clients.get(link)?.stop();
  s.clients.delete(link);
  const lease = s.leases.get(link);
  s.leases.delete(link);
  if (lease) event(d, "address-removed", link, `${cidrOf(lease)} (dhcp stopped)`, cidrOf(lease), "dhcp");
}

/** A DHCP client's event: leases kept, events published, names refreshed. */
function onDhcpEvent(d: NetworkDeps, s: State, link: string, e: DhcpEvent): void {
  if (e.t === "failed") {
    d.log(`network: ${e.message}`);
    event(d, "lease-failed", link, e.message);
    return;
  }
  const cidr = cidrOf(e.lease);
  if (e.t === "lost") {
    s.leases.delete(link);
    d.log(`network: ${e.message}`);
    event(d, "lease-lost", link, e.message, cidr, "dhcp");
    event(d, "address-removed", link, `${cidr} (lease lost)`, cidr, "dhcp");
  } else {
    s.leases.set(link, e.lease);
    const text = describeLease(e.lease);
    d.log(`network: ${link}: DHCP lease ${e.t}: ${text}`);
    event(d, e.t === "acquired" ? "lease-acquired" : "lease-renewed", link, text, cidr, "dhcp");
    if (e.t === "acquired") event(d, "address-added", link, `${cidr} (dhcp)`, cidr, "dhcp");
  }
  refreshNames(d, s);
}

/** "10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3, 86400 s". */
function describeLease(l: Lease): string {
  const parts = [`${cidrOf(l)}${l.router ? ` via ${l.router}` : ""}`];
  if (l.nameservers.length) parts.push(`dns ${l.nameservers.join(" ")}`);
  if (l.hostname) parts.push(`hostname ${l.hostname}`);
  parts.push(`${l.leaseSeconds === INFINITE_LEASE ? "an infinite lease" : `${l.leaseSeconds} s`} from ${l.serverId}`);
  return parts.join(", ");
}

/**
 * Hostname, /etc/hosts and resolv.conf when a lease has a say: the config's
 * hostname and nameservers win, else the leases'. With no lease ever, apply-system
 * owns these files and this does nothing.
 */
function refreshNames(d: NetworkDeps, s: State): void {
  const leases = [...s.leases.values()];
  if (!leases.length && !s.leasedNames) return;
  const hostname = hostnameFor(s.config, d.identity, leases.find((l) => l.hostname)?.hostname);
  const servers = [...new Set(leases.flatMap((l) => l.nameservers))];
  try {
    applyHostname(d.applyEnv, hostname);
    applyEtcFiles(d.applyEnv, hostname, s.config, undefined, { now: servers, before: s.leasedNames });
    s.leasedNames = leases.some((l) => l.hostname || l.nameservers.length);
  } catch (err) {
    d.log(`network: writing hostname and resolv.conf: ${messageOf(err)}`);
    event(d, "error", "", `writing hostname and resolv.conf: ${messageOf(err)}`);
  }
}

/** Polls for a first Ethernet-like link (drivers may still be probing), then applies again. */
function watchForLink(d: NetworkDeps, nl: Rtnetlink, s: State, again: () => unknown): void {
  const until = Date.now() + (d.linkWaitMs ?? 60_000);
  d.log("network: no Ethernet link yet; waiting for one");
  s.linkWatch = setInterval(() => {
    let found = false;
    try {
      found = nl.linkList().some(isEthernetLike);
    } catch {}
    if (!found && Date.now() < until) return;
    clearInterval(s.linkWatch);
    if (found) void again();
    else event(d, "error", "", `no network link appeared within ${(d.linkWaitMs ?? 60_000) / 1000} s`);
  }, 500);
  s.linkWatch.unref();
}

/** Polls until a non-loopback, non-link-local address and a default route exist. */
async function waitOnline(nl: Rtnetlink, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const addressed = nl.addrList().some((a) => a.link !== "lo" && !a.address.startsWith("fe80:"));
      if (addressed && nl.routeList().some((r) => r.dst === "default")) return true;
    } catch {}
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, until - Date.now()))));
  }
}

/** A runner for one netlink step: true when it worked; a failure is logged, evented and (if given) collected. */
function step(d: NetworkDeps, warnings?: string[]) {
  return (link: string, fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (err) {
      const message = messageOf(err);
      warnings?.push(`machine.network: ${message}`);
      if (!warnings) d.log(`network: ${message}`);
      event(d, "error", link, message);
      return false;
    }
  };
}

function event(d: NetworkDeps, kind: NetworkEventKind, link: string, message: string, address = "", source: "dhcp" | "static" | "" = ""): void {
  const payload: EventPayload = { t: "network", kind, link, address, source, message };
  d.events.publish(payload);
}

const cidrOf = (l: Lease) => `${l.address}/${l.prefixLength}`;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
