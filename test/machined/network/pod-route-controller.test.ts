// The pod-route controller with a fake Node source: it reconciles at every
// change and on its resync timer, logs changes, and each warning once while
// it lasts.
import t from "tap";
import { type NodeSource, runPodRouteController } from "../../../src/machined/network/pod-route-controller.js";
import type { PodRouteNode } from "../../../src/machined/network/pod-routes.js";
import { NetlinkError } from "../../../src/net/netlink.js";
import { RTPROT_KILN, type Route, type RouteSpec } from "../../../src/net/rtnetlink.js";

const node = (name: string, podCIDR: string, ip: string): PodRouteNode => ({ metadata: { name }, spec: { podCIDR }, status: { addresses: [{ type: "InternalIP", address: ip }] } });

/** A source the test drives: push() hands a list on; watchNodes settles when the signal aborts. */
function fakeSource() {
  let push: (nodes: PodRouteNode[]) => void = () => {};
  const source: NodeSource = {
    watchNodes: (onChange, signal) =>
      new Promise((resolve) => {
        push = onChange;
        signal.addEventListener("abort", () => resolve());
      }),
  };
  return { source, push: (nodes: PodRouteNode[]) => push(nodes) };
}

/** Routes in memory; a gateway in 172.16/12 is unreachable. */
function fakeNl() {
  const routes: Route[] = [];
  return {
    routes,
    routeList: () => [...routes],
    routeAdd: (r: RouteSpec) => {
      if (r.gateway?.startsWith("172.16.")) throw new NetlinkError(`adding route ${r.dst}`, 101);
      routes.push({ family: 4, dst: r.dst, gateway: r.gateway ?? "", dev: "", metric: 0, source: "", protocol: r.protocol === RTPROT_KILN ? "kiln" : "static", scope: "universe" });
    },
    routeDel: (r: RouteSpec) => void routes.splice(routes.findIndex((x) => x.dst === r.dst && x.gateway === r.gateway), 1),
  };
}

t.test("reconciles at each change, resyncs, and logs a lasting warning once", async (t) => {
  const { source, push } = fakeSource();
  const nl = fakeNl();
  const lines: string[] = [];
  const ac = new AbortController();
  const done = runPodRouteController({ source, nl, self: "a", log: (l) => lines.push(l), resyncMs: 20 }, ac.signal);
  push([node("a", "10.244.0.0/24", "10.0.0.1"), node("b", "10.244.1.0/24", "10.0.0.2"), node("far", "10.244.7.0/24", "172.16.0.7")]);
  t.same(nl.routes.map((r) => `${r.dst} via ${r.gateway}`), ["10.244.1.0/24 via 10.0.0.2"]);
  nl.routes.length = 0; // a link went down and took its routes along
  await new Promise((r) => setTimeout(r, 70));
  t.same(nl.routes.map((r) => r.dst), ["10.244.1.0/24"], "the resync put it back");
  push([node("a", "10.244.0.0/24", "10.0.0.1")]);
  t.same(nl.routes, [], "b left: its route went");
  ac.abort();
  await done;
  t.equal(lines.filter((l) => l.includes("ENETUNREACH")).length, 1, "the unreachable node is logged once");
  t.ok(lines.includes("pod routes: added 10.244.1.0/24 via 10.0.0.2 (node b)"));
  t.ok(lines.includes("pod routes: removed 10.244.1.0/24 via 10.0.0.2"));
});
