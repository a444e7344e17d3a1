// The Node list from the API server: list, then watch from the list's
// resourceVersion, keeping a map by name; every change hands the whole list
// on. A watch that ends is resumed; one that fails (410 Gone, the server
// away) lists again after a growing wait, up to 30 s.
import { setTimeout as sleep } from "node:timers/promises";
import type { PodRouteNode } from "../network/pod-routes.js";
import type { NodeSource } from "../network/pod-route-controller.js";
import type { KubeClient, WatchEvent } from "../../machinery/kube-client.js";

const nodesPath = "/api/v1/nodes";

type Node = PodRouteNode & { metadata?: { name?: string; resourceVersion?: string } };

/** A NodeSource over `client`; `log` hears why a watch is restarted. */
export function kubeNodeSource(client: KubeClient, log: (line: string) => void): NodeSource {
  return {
    watchNodes: async (onChange, signal) => {
      let delayMs = 1000;
      while (!signal.aborted) {
        try {
          await listAndWatch(client, onChange, signal, () => (delayMs = 1000));
        } catch (err) {
          if (signal.aborted) return;
          log(`nodes: ${err instanceof Error ? err.message : String(err)}; listing again in ${delayMs / 1000} s`);
          await sleep(delayMs, undefined, { signal }).catch(() => undefined);
          delayMs = Math.min(delayMs * 2, 30_000);
        }
      }
    },
  };
}

/** One list and the watches after it, until a watch fails (throws) or the signal aborts. */
async function listAndWatch(client: KubeClient, onChange: (nodes: PodRouteNode[]) => void, signal: AbortSignal, ok: () => void): Promise<void> {
  const list = await client.list<Node>(nodesPath);
  const nodes = new Map(list.items.map((n) => [n.metadata?.name ?? "", n]));
  let rv = list.metadata.resourceVersion;
  onChange([...nodes.values()]);
  ok();
  while (!signal.aborted) {
    for await (const ev of client.watch<Node>(nodesPath, rv, signal)) {
      if (ev.type === "ERROR") throw new Error(`watch: ${ev.object.message ?? "error"} (${ev.object.code ?? "?"})`);
      rv = ev.object.metadata?.resourceVersion ?? rv;
      if (apply(nodes, ev)) onChange([...nodes.values()]);
    }
  }
}

/** Applies one event to the map; whether the list changed. */
function apply(nodes: Map<string, Node>, ev: Exclude<WatchEvent<Node>, { type: "ERROR" }>): boolean {
  const name = ev.object.metadata?.name ?? "";
  if (ev.type === "BOOKMARK") return false;
  if (ev.type === "DELETED") return nodes.delete(name);
  nodes.set(name, ev.object);
  return true;
}
