// The Node source over a fake KubeClient: list, then watch from its
// resourceVersion; every change hands the whole list on; a failed watch lists again.
import t from "tap";
import type { KubeClient, KubeList, WatchEvent } from "../../../src/machinery/kube-client.js";
import { kubeNodeSource } from "../../../src/machined/kubernetes/node-source.js";
import type { PodRouteNode } from "../../../src/machined/network/pod-routes.js";

type N = PodRouteNode & { metadata: { name: string; resourceVersion?: string } };
const n = (name: string, rv: string, podCIDR?: string): N => ({ metadata: { name, resourceVersion: rv }, spec: podCIDR ? { podCIDR } : {} });

t.test("lists, watches from the list's version, applies events, and lists again after a watch error", async (t) => {
  const ac = new AbortController();
  const asked: string[] = [];
  const lists: KubeList<N>[] = [
    { metadata: { resourceVersion: "10" }, items: [n("a", "9")] },
    { metadata: { resourceVersion: "30" }, items: [n("a", "9"), n("c", "29")] },
  ];
  const watches: WatchEvent<N>[][] = [
    [
      { type: "ADDED", object: n("b", "11") },
      { type: "BOOKMARK", object: n("", "12") },
      { type: "MODIFIED", object: n("b", "13", "10.244.1.0/24") },
      { type: "ERROR", object: { code: 410, message: "too old resource version" } },
    ],
  ];
  const client = {
    list: async (path: string) => {
      asked.push(`list ${path}`);
      const l = lists.shift();
      if (!l) throw new Error("no more lists");
      return l;
    },
    watch: (path: string, rv: string | undefined) => {
      asked.push(`watch ${path} from ${rv}`);
      const events = watches.shift() ?? [];
      return (async function* () {
        for (const e of events) yield e;
        if (!events.length) await new Promise((r) => ac.signal.addEventListener("abort", r));
      })();
    },
  } as unknown as KubeClient;
  const seen: string[][] = [];
  const logs: string[] = [];
  const done = kubeNodeSource(client, (l) => logs.push(l)).watchNodes((nodes) => {
    seen.push(nodes.map((x) => `${x.metadata?.name}:${x.spec?.podCIDR ?? "-"}`));
    if (seen.length === 4) setTimeout(() => ac.abort(), 10);
  }, ac.signal);
  await done;
  t.same(seen, [["a:-"], ["a:-", "b:-"], ["a:-", "b:10.244.1.0/24"], ["a:-", "c:-"]], "a bookmark changes nothing; the relist replaces the map");
  t.same(asked, ["list /api/v1/nodes", "watch /api/v1/nodes from 10", "list /api/v1/nodes", "watch /api/v1/nodes from 30"]);
  t.match(logs, [/^nodes: watch: too old resource version \(410\); listing again in 1 s$/]);
});
