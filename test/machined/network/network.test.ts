// The network controller with an in-memory rtnetlink and a fake DHCP client:
// what it asks of the kernel, the events it publishes, hostname and resolv.conf.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { EventPayload } from "../../../src/machined/events.js";
import { startNetwork } from "../../../src/machined/network/network.js";
import type { DhcpClientOptions, Lease } from "../../../src/net/dhcp-client.js";
import { NetlinkError } from "../../../src/net/netlink.js";
import type { Address, Link, Route, RouteSpec, Rtnetlink } from "../../../src/net/rtnetlink.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { configOf, worker } from "../../config/fixtures.js";
import { type Teardown, tempDir } from "../helpers.js";
import { identityOf } from "../../../src/machined/machine-id.js";

const identity = identityOf("abcdef0123456789abcdef0123456789");

/** rtnetlink in memory: links lo and eth0/eth1, addresses and routes as plain lists, every call recorded. */
function fakeNetlink() {
  const links: Link[] = [
    { index: 1, name: "lo", up: false, lowerUp: false, mtu: 65536, mac: "00:00:00:00:00:00" },
    { index: 2, name: "eth0", up: false, lowerUp: true, mtu: 1500, mac: "52:54:00:00:00:01" },
    { index: 3, name: "eth1", up: false, lowerUp: true, mtu: 1500, mac: "52:54:00:00:00:02" },
  ];
  const addrs: Address[] = [];
  const routes: Route[] = [];
  const calls: string[] = [];
  const fail = new Set<string>();
  const linkOf = (name: string) => {
    const l = links.find((x) => x.name === name);
    if (!l) throw new NetlinkError(`link ${name}`, 19);
    return l;
  };
  const record = (call: string, fn: () => unknown) => {
    calls.push(call);
    if (fail.has(call)) throw new NetlinkError(call, 1);
    fn();
  };
  const route = (r: RouteSpec): Route => ({ family: 4, dst: r.dst, gateway: r.gateway ?? "", dev: r.dev ?? "", metric: r.metric ?? 0, source: "", protocol: "static", scope: "universe" });
  const nl: Rtnetlink = {
    linkList: () => links.map((l) => ({ ...l })),
    linkSetUp: (n) => record(`up ${n}`, () => Object.assign(linkOf(n), { up: true })),
    linkSetDown: (n) => record(`down ${n}`, () => Object.assign(linkOf(n), { up: false })),
    linkSetMtu: (n, mtu) => record(`mtu ${n} ${mtu}`, () => Object.assign(linkOf(n), { mtu })),
    addrAdd: (n, cidr) =>
      record(`addr add ${n} ${cidr}`, () => {
        const [address = "", len] = cidr.split("/");
        addrs.push({ link: n, index: linkOf(n).index, family: 4, address, prefixLength: Number(len) });
      }),
    addrDel: (n, cidr) => record(`addr del ${n} ${cidr}`, () => void addrs.splice(addrs.findIndex((a) => a.link === n && cidr.startsWith(`${a.address}/`)), 1)),
    addrList: () => [...addrs],
    routeAdd: (r) => record(`route add ${r.dst} ${r.gateway ?? ""} ${r.dev ?? ""}`, () => void routes.push(route(r))),
    routeDel: (r) => record(`route del ${r.dst} ${r.gateway ?? ""} ${r.dev ?? ""}`, () => void routes.splice(routes.findIndex((x) => x.dst === r.dst && x.dev === r.dev), 1)),
    routeList: () => [...routes],
    close: () => void calls.push("close"),
  };
  return { nl, calls, fail, addrs, routes };
}

/** A controller over the fakes, with a fake DHCP client per link that the test drives. */
function setup(t: Teardown) {
  const root = tempDir(t);
  mkdirSync(join(root, "etc"));
  const sys = createFakeSys();
  const fake = fakeNetlink();
  const events = createEventBus();
  const seen: EventPayload[] = [];
  const publish = events.publish;
  events.publish = (p) => {
    seen.push(p);
    return publish(p);
  };
  const dhcp = new Map<string, DhcpClientOptions & { stopped: boolean }>();
  const log: string[] = [];
  const network = startNetwork({
    sys, events, identity, log: (l) => log.push(l),
    applyEnv: { sys, platform: "metal", root },
    openNetlink: () => fake.nl,
    startDhcp: (o) => {
      const entry = { ...o, stopped: false };
      dhcp.set(o.link, entry);
      return { firstLease: new Promise(() => {}), lease: () => undefined, stop: async () => void Object.assign(entry, { stopped: true }) };
    },
  });
  t.teardown(() => network.stop());
  const net = seen.filter.bind(seen) as (f: (p: EventPayload) => boolean) => EventPayload[];
  const networkEvents = () => net((p) => p.t === "network").map((p) => (p.t === "network" ? `${p.kind} ${p.link} ${p.address} ${p.source}`.trim() : ""));
  return { ...fake, sys, root, network, dhcp, log, networkEvents, read: (p: string) => readFileSync(join(root, p), "utf8") };
}

const lease = (over: Partial<Lease> = {}): Lease => ({
  link: "eth0", address: "10.0.2.15", prefixLength: 24, router: "10.0.2.2", nameservers: ["10.0.2.3"], serverId: "10.0.2.2",
  leaseSeconds: 86400, renewSeconds: 43200, rebindSeconds: 75600, acquiredAt: new Date(), ...over,
});

const cfg = (machine: Record<string, unknown>): MachineConfig => configOf(worker(machine));

t.test("without config: loopback up, then DHCP on the first Ethernet link; a lease names the machine and its resolvers", async (t) => {
  const m = setup(t);
  await m.network.apply(undefined);
  t.same(m.calls.slice(0, 2), ["up lo", "up eth0"]);
  t.same([...m.dhcp.keys()], ["eth0"]);
  t.equal(m.dhcp.get("eth0")?.mac, "52:54:00:00:00:01");

  m.dhcp.get("eth0")?.onEvent({ t: "acquired", lease: lease({ hostname: "from-dhcp" }) });
  t.same(m.networkEvents(), ["link-up eth0", "lease-acquired eth0 10.0.2.15/24 dhcp", "address-added eth0 10.0.2.15/24 dhcp"]);
  t.same(m.sys.argsOf("sethostname").at(-1), ["from-dhcp"]);
  t.equal(m.read("etc/resolv.conf"), "# from DHCP (machine.network.nameservers is empty)\nnameserver 10.0.2.3\n");
  t.match(m.read("etc/hosts"), "127.0.1.1 from-dhcp");
  t.same(m.network.leases().map((l) => l.address), ["10.0.2.15"]);
});

t.test("a config's hostname and nameservers win over the lease's", async (t) => {
  const m = setup(t);
  await m.network.apply(cfg({ hostname: "node-1", network: { nameservers: ["1.1.1.1"] } }));
  m.dhcp.get("eth0")?.onEvent({ t: "acquired", lease: lease({ hostname: "from-dhcp" }) });
  t.same(m.sys.argsOf("sethostname").at(-1), ["node-1"]);
  t.equal(m.read("etc/resolv.conf"), "nameserver 1.1.1.1\n");
});

t.test("a new config stops DHCP, sets the old link down and configures the new one statically", async (t) => {
  const m = setup(t);
  await m.network.apply(undefined);
  m.dhcp.get("eth0")?.onEvent({ t: "acquired", lease: lease() });
  m.calls.length = 0;
  const warnings = await m.network.apply(
    cfg({ network: { interfaces: [{ name: "eth1", mtu: 9000, addresses: ["192.168.1.10/24"], routes: [{ network: "0.0.0.0/0", gateway: "192.168.1.1" }] }] } }),
  );
  t.same(warnings, []);
  t.equal(m.dhcp.get("eth0")?.stopped, true);
  t.same(m.calls, ["down eth0", "mtu eth1 9000", "up eth1", "addr add eth1 192.168.1.10/24", "route add default 192.168.1.1 eth1"]);
  t.match(m.networkEvents().slice(3), ["address-removed eth0 10.0.2.15/24 dhcp", "link-down eth0", "link-up eth1", "address-added eth1 192.168.1.10/24 static"]);
  t.equal(m.read("etc/resolv.conf"), "# no nameservers configured (machine.network.nameservers)\n", "the lease's resolvers went with it");
  t.same(m.sys.argsOf("sethostname").at(-1), ["kiln-abcdef"]);

  m.calls.length = 0;
  await m.network.apply(cfg({ network: { interfaces: [{ name: "eth1", mtu: 9000, addresses: ["192.168.1.11/24"] }] } }));
  t.same(m.calls, ["route del default 192.168.1.1 eth1", "addr del eth1 192.168.1.10/24", "addr add eth1 192.168.1.11/24"], "only the difference");
});

t.test("failures are warnings and events, never exceptions; unknown links are named", async (t) => {
  const m = setup(t);
  m.fail.add("addr add eth1 192.168.1.10/24");
  const warnings = await m.network.apply(cfg({ network: { interfaces: [{ name: "eth1", addresses: ["192.168.1.10/24"] }, { name: "eth9", dhcp: true }] } }));
  t.same(warnings, [
    "machine.network.interfaces[1].name: no link named `eth9` (links: lo, eth0, eth1)",
    "machine.network: addr add eth1 192.168.1.10/24: EPERM",
  ]);
  t.ok(m.networkEvents().includes("error eth1"), "an error event names the link");
  m.dhcp.get("eth1");
  t.same(m.log.filter((l) => l.includes("EPERM")), ["network: machine.network: addr add eth1 192.168.1.10/24: EPERM"]);
});

t.test("DHCP failures and lost leases are evented", async (t) => {
  const m = setup(t);
  await m.network.apply(undefined);
  const c = m.dhcp.get("eth0")!;
  c.onEvent({ t: "failed", message: "no DHCP lease on eth0 within 30 s" });
  c.onEvent({ t: "acquired", lease: lease() });
  c.onEvent({ t: "renewed", lease: lease() });
  c.onEvent({ t: "lost", lease: lease(), message: "ran out" });
  t.same(m.networkEvents().slice(1), [
    "lease-failed eth0",
    "lease-acquired eth0 10.0.2.15/24 dhcp",
    "address-added eth0 10.0.2.15/24 dhcp",
    "lease-renewed eth0 10.0.2.15/24 dhcp",
    "lease-lost eth0 10.0.2.15/24 dhcp",
    "address-removed eth0 10.0.2.15/24 dhcp",
  ]);
  t.same(m.network.leases(), []);
});

t.test("waitOnline resolves once an address and a default route exist, false on timeout", async (t) => {
  const m = setup(t);
  t.equal(await m.network.waitOnline(50), false);
  const online = m.network.waitOnline(5000);
  m.nl.addrAdd("eth0", "10.0.2.15/24");
  m.nl.routeAdd({ dst: "default", gateway: "10.0.2.2", dev: "eth0" });
  t.equal(await online, true);
  t.same(m.network.status().routes.map((r) => r.dst), ["default"]);
});
