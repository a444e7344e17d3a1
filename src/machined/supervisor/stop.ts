// Stopping services: one (TERM → grace → KILL its cgroup, Stopping →
// Finished), or all of them, dependents first, within one total grace.
import { type Core, graphOf } from "./core.js";
import { dependentsOf, type Graph } from "./graph.js";
import { stopHealth } from "./lifecycle.js";
import { type Active, type Entry, state } from "./state.js";

export const DEFAULT_GRACE_MS = 10_000;

/** Stops the entry (sharing a stop already under way). */
export function stopEntry(c: Core, e: Entry, graceMs = e.def.stopGraceMs ?? DEFAULT_GRACE_MS): Promise<string> {
  if (e.stopping) return e.stopping;
  const a = e.active;
  if (!a) return Promise.resolve(`service ${e.def.id} is not running (${e.state.t})`);
  e.stopping = halt(c, e, a, graceMs).finally(() => {
    e.stopping = undefined;
  });
  return e.stopping;
}

/** Stopping → (TERM, grace, KILL the cgroup) → Finished. */
async function halt(c: Core, e: Entry, a: Active, graceMs: number): Promise<string> {
  a.abort.abort();
  stopHealth(e, a);
  c.env.set(e, state("Stopping", `stopping (grace ${graceMs} ms)`));
  const how = a.loop ? await a.loop.stop(graceMs) : "stopped";
  await a.done;
  if (e.active === a) e.active = undefined;
  c.env.set(e, state("Finished", how));
  return `service ${e.def.id}: ${how}`;
}

/** Stops every service after its dependents; graces shrink so the total stays within `graceMs`. */
export async function stopAll(c: Core, graceMs = maxGrace(c)): Promise<void> {
  const deadline = Date.now() + graceMs;
  const g: Graph = graphOf(c);
  const stops = new Map<string, Promise<unknown>>();
  const stopInOrder = (id: string): Promise<unknown> => {
    const known = stops.get(id);
    if (known) return known;
    const e = c.entries.get(id)!;
    const own = e.def.stopGraceMs ?? DEFAULT_GRACE_MS;
    const p = Promise.resolve()
      .then(() => Promise.all(dependentsOf(g, id).map(stopInOrder)))
      .then(() => stopEntry(c, e, Math.max(0, Math.min(own, deadline - Date.now()))));
    stops.set(id, p);
    return p;
  };
  await Promise.all([...g.keys()].map(stopInOrder));
}

/** The longest stop grace of the registered services. */
function maxGrace(c: Core): number {
  return Math.max(0, ...[...c.entries.values()].map((e) => e.def.stopGraceMs ?? DEFAULT_GRACE_MS));
}

