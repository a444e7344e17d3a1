// Pod routes in a real kernel: a network namespace with a veth on
// 10.99.0.0/24, a route of someone else's, and reconciles of a changing
// Node list, checked with `ip -j route`.
import t from "tap";
import { reconcilePodRoutes } from "../../../src/machined/network/pod-routes.js";
import { openRtnetlink } from "../../../src/net/rtnetlink.js";
import { createLibcSys } from "../../../src/sys/libc.js";
import { createNetns, inNetns, ipIn, ipJson, needsNetns } from "../../net/netns.js";

const sys = createLibcSys();

const node = (name: string, podCIDR: string, ip: string) => ({ metadata: { name }, spec: { podCIDR }, status: { addresses: [{ type: "InternalIP", address: ip }] } });

interface IpRoute {
  dst: string;
  gateway?: string;
  protocol?: string;
}

t.test("reconciles add, move and remove kiln's routes (protocol 75) and leave a static one alone", async (t) => {
  if (!needsNetns(t)) return;
  const ns = `kiln-podroutes-${process.pid}`;
  createNetns(t, ns);
  ipIn(ns, ["link", "add", "kv0", "type", "veth", "peer", "name", "kv1"]);
  ipIn(ns, ["link", "set", "kv1", "up"]);
  ipIn(ns, ["link", "set", "kv0", "up"]);
  ipIn(ns, ["addr", "add", "10.99.0.2/24", "dev", "kv0"]);
  ipIn(ns, ["route", "add", "10.244.9.0/24", "via", "10.99.0.50"]);
  const nl = inNetns(sys, ns, () => openRtnetlink(sys));
  t.teardown(() => nl.close());
  const kilnRoutes = () => (ipJson(ns, ["route", "show", "proto", "75"]) as IpRoute[]).map((r) => `${r.dst} via ${r.gateway}`).sort();

  const first = reconcilePodRoutes(nl, [node("self", "10.244.0.0/24", "10.99.0.2"), node("b", "10.244.1.0/24", "10.99.0.11"), node("c", "10.244.2.0/24", "10.99.0.12")], "self");
  t.same(first.warnings, []);
  t.same(kilnRoutes(), ["10.244.1.0/24 via 10.99.0.11", "10.244.2.0/24 via 10.99.0.12"], "ip sees both with protocol 75");

  const second = reconcilePodRoutes(nl, [node("b", "10.244.1.0/24", "10.99.0.21"), node("d", "10.244.9.0/24", "10.99.0.14"), node("e", "10.244.5.0/24", "172.16.0.5")], "self");
  t.same(kilnRoutes(), ["10.244.1.0/24 via 10.99.0.21"], "b moved; c gone");
  t.same(second.removed.sort(), ["10.244.1.0/24 via 10.99.0.11", "10.244.2.0/24 via 10.99.0.12"]);
  t.same(second.warnings.length, 2, `two warnings: ${second.warnings.join("; ")}`);
  t.match(second.warnings.join("\n"), /10\.244\.9\.0\/24 via 10\.99\.0\.14 \(node d\): .*EEXIST/, "a destination routed by someone else");
  t.match(second.warnings.join("\n"), /10\.244\.5\.0\/24 via 172\.16\.0\.5 \(node e\): .*ENETUNREACH/, "a node not on a connected network: host-gw cannot reach it");
  const statics = (ipJson(ns, ["route", "show", "10.244.9.0/24"]) as IpRoute[]).map((r) => `${r.gateway} ${r.protocol ?? "boot"}`);
  t.same(statics, ["10.99.0.50 boot"], "the route `ip route add` made is untouched");

  reconcilePodRoutes(nl, [], "self");
  t.same(kilnRoutes(), [], "no nodes, no kiln routes");
  t.equal((ipJson(ns, ["route", "show", "10.244.9.0/24"]) as IpRoute[]).length, 1, "and still the other");
});
