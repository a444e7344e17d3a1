// host-gw pod routes: which routes the Node list asks for, the diff against
// the kernel's kiln routes, and a reconcile through an in-memory rtnetlink.
import t from "tap";
import { diffPodRoutes, type PodRouteNode, podRoutes, reconcilePodRoutes } from "../../../src/machined/network/pod-routes.js";
import { NetlinkError } from "../../../src/net/netlink.js";
import { RTPROT_KILN, type Route, type RouteSpec } from "../../../src/net/rtnetlink.js";

/** A Node with a pod CIDR and an InternalIP. */
function node(name: string, podCIDR?: string, ip?: string, more: Partial<PodRouteNode> = {}): PodRouteNode {
  return {
    metadata: { name },
    spec: podCIDR ? { podCIDR } : {},
    status: { addresses: [{ type: "Hostname", address: name }, ...(ip ? [{ type: "InternalIP", address: ip }] : [])] },
    ...more,
  };
}

t.test("routes every other node's pod CIDR via its InternalIP, sorted, never to itself", async (t) => {
  const nodes = [node("c", "10.244.2.0/24", "192.168.1.12"), node("a", "10.244.0.0/24", "192.168.1.10"), node("b", "10.244.1.0/24", "192.168.1.11")];
  t.same(podRoutes(nodes, "a"), [
    { dst: "10.244.1.0/24", gateway: "192.168.1.11", node: "b" },
    { dst: "10.244.2.0/24", gateway: "192.168.1.12", node: "c" },
  ]);
});

t.test("leaves out nodes without a pod CIDR or an IPv4 InternalIP, and takes the IPv4 one of dual-stack", async (t) => {
  const nodes = [
    node("no-cidr", undefined, "192.168.1.20"),
    node("no-ip", "10.244.5.0/24"),
    { metadata: { name: "v6-ip" }, spec: { podCIDR: "10.244.6.0/24" }, status: { addresses: [{ type: "InternalIP", address: "fd00::6" }] } },
    { metadata: { name: "dual" }, spec: { podCIDR: "fd00:244::/64", podCIDRs: ["fd00:244::/64", "10.244.7.0/24"] }, status: { addresses: [{ type: "InternalIP", address: "fd00::7" }, { type: "InternalIP", address: "192.168.1.27" }] } },
    { metadata: { name: "external-only" }, spec: { podCIDR: "10.244.8.0/24" }, status: { addresses: [{ type: "ExternalIP", address: "203.0.113.8" }] } },
  ];
  t.same(podRoutes(nodes, "self"), [{ dst: "10.244.7.0/24", gateway: "192.168.1.27", node: "dual" }]);
});

t.test("the diff removes stale and changed routes and adds missing ones", async (t) => {
  const want = [
    { dst: "10.244.1.0/24", gateway: "192.168.1.11", node: "b" },
    { dst: "10.244.2.0/24", gateway: "192.168.1.99", node: "c" },
  ];
  const have = [
    { dst: "10.244.1.0/24", gateway: "192.168.1.11" },
    { dst: "10.244.2.0/24", gateway: "192.168.1.12" },
    { dst: "10.244.3.0/24", gateway: "192.168.1.13" },
  ];
  t.same(diffPodRoutes(want, have), {
    remove: [{ dst: "10.244.2.0/24", gateway: "192.168.1.12" }, { dst: "10.244.3.0/24", gateway: "192.168.1.13" }],
    add: [{ dst: "10.244.2.0/24", gateway: "192.168.1.99", node: "c" }],
  });
  t.same(diffPodRoutes(want, want), { remove: [], add: [] }, "nothing to do when in line");
});

/** An in-memory main table with routes of several protocols; adds fail with EEXIST on a taken destination. */
function fakeTable(initial: Route[]) {
  const routes = [...initial];
  const calls: string[] = [];
  const route = (r: RouteSpec): Route => ({ family: 4, dst: r.dst, gateway: r.gateway ?? "", dev: "", metric: 0, source: "", protocol: r.protocol === RTPROT_KILN ? "kiln" : "static", scope: "universe" });
  return {
    routes,
    calls,
    nl: {
      routeList: () => routes.map((r) => ({ ...r })),
      routeAdd: (r: RouteSpec) => {
        calls.push(`add ${r.dst} via ${r.gateway} proto ${r.protocol}`);
        if (routes.some((x) => x.dst === r.dst)) throw new NetlinkError(`adding route ${r.dst}`, 17);
        routes.push(route(r));
      },
      routeDel: (r: RouteSpec) => {
        calls.push(`del ${r.dst} via ${r.gateway} proto ${r.protocol}`);
        const i = routes.findIndex((x) => x.dst === r.dst && x.gateway === r.gateway && (r.protocol === undefined || x.protocol === "kiln"));
        if (i < 0) throw new NetlinkError(`removing route ${r.dst}`, 3);
        routes.splice(i, 1);
      },
    },
  };
}

const r = (dst: string, gateway: string, protocol: string): Route => ({ family: 4, dst, gateway, dev: "eth0", metric: 0, source: "", protocol, scope: "universe" });

t.test("a reconcile touches only kiln's routes: stale ones go, missing ones come, another's stay", async (t) => {
  const table = fakeTable([
    r("default", "192.168.1.1", "dhcp"),
    r("10.244.3.0/24", "192.168.1.13", "kiln"),
    r("10.244.9.0/24", "192.168.1.50", "static"),
    r("10.244.1.0/24", "192.168.1.11", "kiln"),
  ]);
  const nodes = [node("a", "10.244.0.0/24", "192.168.1.10"), node("b", "10.244.1.0/24", "192.168.1.11"), node("c", "10.244.2.0/24", "192.168.1.12")];
  const got = reconcilePodRoutes(table.nl, nodes, "a");
  t.same(got, { added: ["10.244.2.0/24 via 192.168.1.12 (node c)"], removed: ["10.244.3.0/24 via 192.168.1.13"], warnings: [] });
  t.same(table.calls, [`del 10.244.3.0/24 via 192.168.1.13 proto ${RTPROT_KILN}`, `add 10.244.2.0/24 via 192.168.1.12 proto ${RTPROT_KILN}`], "deletes name kiln's protocol");
  t.ok(table.routes.some((x) => x.dst === "10.244.9.0/24" && x.protocol === "static"), "the static route stays");
  t.same(reconcilePodRoutes(table.nl, nodes, "a"), { added: [], removed: [], warnings: [] }, "a second reconcile changes nothing");
  t.same(reconcilePodRoutes(table.nl, [], "a").removed.sort(), ["10.244.1.0/24 via 192.168.1.11", "10.244.2.0/24 via 192.168.1.12"], "no nodes: every kiln route goes");
  t.same(table.routes.map((x) => x.dst), ["default", "10.244.9.0/24"]);
});

t.test("a destination someone else routes is a warning, not kiln's, and the rest is applied", async (t) => {
  const table = fakeTable([r("10.244.9.0/24", "192.168.1.50", "static")]);
  const got = reconcilePodRoutes(table.nl, [node("x", "10.244.9.0/24", "192.168.1.19"), node("y", "10.244.4.0/24", "192.168.1.14")], "a");
  t.same(got.added, ["10.244.4.0/24 via 192.168.1.14 (node y)"]);
  t.equal(got.warnings.length, 1);
  t.match(got.warnings[0], /^10\.244\.9\.0\/24 via 192\.168\.1\.19 \(node x\): .*EEXIST/);
  t.ok(table.routes.some((x) => x.dst === "10.244.9.0/24" && x.gateway === "192.168.1.50"), "the other route is untouched");
});
