// The pod-route controller: reconciles the kernel's kiln routes with the
// Node list every time it changes, and again every minute (a link that went
// down took its routes along). It logs what it changed and each warning
// once while it lasts.
import type { Rtnetlink } from "../../net/rtnetlink.js";
import { type PodRouteNode, reconcilePodRoutes } from "./pod-routes.js";

/** Where the Node list comes from: the whole list at each change, until the signal aborts. */
export interface NodeSource {
  watchNodes(onChange: (nodes: PodRouteNode[]) => void, signal: AbortSignal): Promise<void>;
}

export interface PodRouteControllerDeps {
  source: NodeSource;
  nl: Pick<Rtnetlink, "routeAdd" | "routeDel" | "routeList">;
  /** This node's name: no route to itself. */
  self: string;
  log(line: string): void;
  /** Between reconciles with an unchanged list; default 60 s. */
  resyncMs?: number;
}

/** Runs until `signal` aborts (or the source fails, which rejects). */
export async function runPodRouteController(d: PodRouteControllerDeps, signal: AbortSignal): Promise<void> {
  let nodes: PodRouteNode[] | undefined;
  let warned = new Set<string>();
  const reconcile = () => {
    if (!nodes) return;
    const r = reconcilePodRoutes(d.nl, nodes, d.self);
    for (const a of r.added) d.log(`pod routes: added ${a}`);
    for (const x of r.removed) d.log(`pod routes: removed ${x}`);
    for (const w of r.warnings) if (!warned.has(w)) d.log(`pod routes: ${w}`);
    warned = new Set(r.warnings);
  };
  const timer = setInterval(reconcile, d.resyncMs ?? 60_000);
  try {
    await d.source.watchNodes((list) => {
      nodes = list;
      reconcile();
    }, signal);
  } finally {
    clearInterval(timer);
  }
}
