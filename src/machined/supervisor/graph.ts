// The dependency graph between services: cycles and unknown dependencies
// are rejected; stopping walks it backwards.

/** Service id → the ids it depends on. */
export type Graph = ReadonlyMap<string, readonly string[]>;

/** A cycle as a path ("a → b → a"), or undefined. Unknown ids are ignored. */
export function findCycle(g: Graph): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  /** Depth-first search; returns the cycle through the first node seen twice on the path. */
  const visit = (id: string): string[] | undefined => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    if (done.has(id) || !g.has(id)) return undefined;
    path.push(id);
    for (const dep of g.get(id)!) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(id);
    return undefined;
  };
  for (const id of g.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Throws on a cycle. */
export function assertAcyclic(g: Graph): void {
  const cycle = findCycle(g);
  if (cycle) throw new Error(`dependency cycle: ${cycle.join(" → ")}`);
}

/** Throws when any service depends on one that is not in the graph. */
export function assertKnown(g: Graph): void {
  const missing = [...g].flatMap(([id, deps]) => deps.filter((d) => !g.has(d)).map((d) => `${id} depends on unknown service "${d}"`));
  if (missing.length > 0) throw new Error(missing.join("; "));
}

/** The ids that depend directly on `id`. */
export function dependentsOf(g: Graph, id: string): string[] {
  return [...g].filter(([, deps]) => deps.includes(id)).map(([other]) => other);
}
