import t from "tap";
import { assertAcyclic, assertKnown, dependentsOf, findCycle } from "../../../src/machined/supervisor/graph.js";

const g = (o: Record<string, string[]>) => new Map(Object.entries(o));

t.test("finds no cycle in a DAG", async (t) => {
  t.equal(findCycle(g({ a: [], b: ["a"], c: ["a", "b"] })), undefined);
});

t.test("names the path of a cycle", async (t) => {
  t.same(findCycle(g({ a: ["c"], b: ["a"], c: ["b"] })), ["a", "c", "b", "a"]);
  t.same(findCycle(g({ a: ["a"] })), ["a", "a"]);
  t.throws(() => assertAcyclic(g({ x: ["y"], y: ["x"] })), { message: "dependency cycle: x → y → x" });
});

t.test("names every unknown dependency", async (t) => {
  t.throws(() => assertKnown(g({ a: ["nope"], b: ["a", "gone"] })), {
    message: 'a depends on unknown service "nope"; b depends on unknown service "gone"',
  });
});

t.test("lists direct dependents", async (t) => {
  t.same(dependentsOf(g({ a: [], b: ["a"], c: ["a", "b"] }), "a"), ["b", "c"]);
});
