import t, { type Test } from "tap";
import { openRtnetlink, type Rtnetlink } from "../../src/net/rtnetlink.js";
import { createLibcSys } from "../../src/sys/libc.js";
import { createNetns, inNetns, ipIn, ipJson, needsNetns } from "./netns.js";

const sys = createLibcSys();

/** A fresh namespace and an rtnetlink socket inside it, both gone at teardown. */
function setup(t: Test, tag: string): { ns: string; nl: Rtnetlink } {
  const ns = `kiln-net-${process.pid}-${tag}`;
  createNetns(t, ns);
  const nl = inNetns(sys, ns, () => openRtnetlink(sys));
  t.teardown(() => nl.close());
  return { ns, nl };
}

interface IpAddr {
  ifname: string;
  flags: string[];
  addr_info: { local: string; prefixlen: number; family: string }[];
}

t.test("lo starts down in a new namespace and linkSetUp brings it up", async (t) => {
  if (!needsNetns(t)) return;
  const { ns, nl } = setup(t, "lo");
  t.match(nl.linkList(), [{ index: 1, name: "lo", up: false }]);
  nl.linkSetUp("lo");
  t.match(nl.linkList(), [{ index: 1, name: "lo", up: true, mtu: 65536, mac: "00:00:00:00:00:00" }]);
  t.ok((ipJson(ns, ["link", "show", "lo"]) as IpAddr[])[0]?.flags.includes("UP"), "ip sees lo UP");
  t.match(nl.addrList(), [{ link: "lo", family: 4, address: "127.0.0.1", prefixLength: 8 }]);
});

t.test("addresses and routes on a veth pair show up in ip -j", async (t) => {
  if (!needsNetns(t)) return;
  const { ns, nl } = setup(t, "veth");
  ipIn(ns, ["link", "add", "kv0", "type", "veth", "peer", "name", "kv1"]);
  nl.linkSetUp("kv1");
  nl.linkSetUp("kv0");
  nl.addrAdd("kv0", "10.99.0.2/24");
  nl.addrAdd("kv0", "fd00:99::2/64");
  nl.routeAdd({ dst: "default", gateway: "10.99.0.1", dev: "kv0" });
  nl.routeAdd({ dst: "10.123.0.0/16", gateway: "10.99.0.1" });
  nl.routeAdd({ dst: "192.168.77.0/24", dev: "kv0" });
  nl.routeAdd({ dst: "fd00:77::/48", gateway: "fd00:99::1", dev: "kv0" });

  const [kv0] = ipJson(ns, ["addr", "show", "dev", "kv0"]) as IpAddr[];
  t.ok(kv0?.flags.includes("UP"), "kv0 is up");
  const addrs = kv0?.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  t.ok(addrs?.includes("10.99.0.2/24") && addrs.includes("fd00:99::2/64"), `ip -j addr: ${addrs}`);

  const routes = ipJson(ns, ["route"]) as { dst: string; gateway?: string; dev: string; scope?: string }[];
  t.match(routes, [
    { dst: "default", gateway: "10.99.0.1", dev: "kv0" },
    { dst: "10.99.0.0/24", dev: "kv0", scope: "link" },
    { dst: "10.123.0.0/16", gateway: "10.99.0.1", dev: "kv0" },
    { dst: "192.168.77.0/24", dev: "kv0", scope: "link" },
  ]);
  const v6 = ipJson(ns, ["-6", "route", "show", "fd00:77::/48"]) as { dst: string; gateway: string }[];
  t.match(v6, [{ dst: "fd00:77::/48", gateway: "fd00:99::1", dev: "kv0" }]);

  const ours = nl.addrList().filter((a) => a.link === "kv0").map((a) => `${a.address}/${a.prefixLength}`);
  t.ok(ours.includes("10.99.0.2/24") && ours.includes("fd00:99::2/64"), `addrList: ${ours}`);
});

t.test("the kernel's refusals name the operation and the errno", async (t) => {
  if (!needsNetns(t)) return;
  const { nl } = setup(t, "err");
  t.throws(() => nl.addrAdd("eth9", "10.0.0.2/24"), { name: "NetlinkError", message: "adding 10.0.0.2/24 to eth9: ENODEV" });
  t.throws(() => nl.linkSetUp("eth9"), { message: "setting eth9 up: ENODEV" });
  t.throws(() => nl.routeAdd({ dst: "10.5.0.0/16", dev: "eth9" }), { message: "adding route 10.5.0.0/16 dev eth9: ENODEV" });
  nl.linkSetUp("lo");
  nl.addrAdd("lo", "10.1.1.1/32");
  t.throws(() => nl.addrAdd("lo", "10.1.1.1/32"), { message: "adding 10.1.1.1/32 to lo: EEXIST" });
  t.throws(() => nl.routeAdd({ dst: "default", gateway: "192.0.2.1" }), {
    message: "adding route default via 192.0.2.1: ENETUNREACH",
  });
});

t.test("routeList, routeDel, addrDel, linkSetMtu and linkSetDown agree with ip -j", async (t) => {
  if (!needsNetns(t)) return;
  const { ns, nl } = setup(t, "del");
  ipIn(ns, ["link", "add", "kv0", "type", "veth", "peer", "name", "kv1"]);
  nl.linkSetUp("kv1");
  nl.linkSetUp("kv0");
  nl.linkSetMtu("kv0", 1400);
  nl.addrAdd("kv0", "10.98.0.2/24");
  nl.routeAdd({ dst: "default", gateway: "10.98.0.1", dev: "kv0", metric: 1024 });
  nl.routeAdd({ dst: "255.255.255.255/32", dev: "kv0" });
  t.match(nl.linkList().find((l) => l.name === "kv0"), { up: true, mtu: 1400 });
  t.match(nl.routeList(), [
    { family: 4, dst: "default", gateway: "10.98.0.1", dev: "kv0", metric: 1024, protocol: "static", scope: "universe" },
    { family: 4, dst: "10.98.0.0/24", gateway: "", dev: "kv0", source: "10.98.0.2", protocol: "kernel", scope: "link" },
    { family: 4, dst: "255.255.255.255/32", dev: "kv0", scope: "link" },
  ]);
  t.match(ipJson(ns, ["route", "show", "255.255.255.255"]), [{ dst: "255.255.255.255", dev: "kv0", scope: "link" }]);

  nl.routeDel({ dst: "255.255.255.255/32", dev: "kv0" });
  nl.routeDel({ dst: "default", gateway: "10.98.0.1", dev: "kv0", metric: 1024 });
  nl.addrDel("kv0", "10.98.0.2/24");
  nl.linkSetDown("kv0");
  t.same(ipJson(ns, ["route"]), [], "no routes left");
  t.notOk(nl.addrList().some((a) => a.address === "10.98.0.2"), "the address is gone");
  t.match(nl.linkList().find((l) => l.name === "kv0"), { up: false });
  t.throws(() => nl.routeDel({ dst: "default", gateway: "10.98.0.1", dev: "kv0" }), { code: "ESRCH" });
  t.throws(() => nl.addrDel("kv0", "10.98.0.2/24"), { message: "removing 10.98.0.2/24 from kv0: EADDRNOTAVAIL" });
});
