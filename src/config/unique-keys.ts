// Duplicate map keys in linear time. yaml's own check compares each key with
// every earlier key of its map, which is quadratic: a 614 KiB config held
// machined's event loop for 38 s. This one keeps a set per map.
import { type Document, isMap, isScalar, visit } from "yaml";

/** The offset of each key that repeats an earlier scalar key of its map (yaml's rule: equal scalar values). */
export function duplicateKeyOffsets(doc: Document.Parsed): number[] {
  const out: number[] = [];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) out.push(key.range?.[0] ?? 0);
        else seen.add(key.value);
      }
    },
  });
  return out;
}
