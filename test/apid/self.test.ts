// Which named node is this machine: one of its addresses, or localhost, at apid's own port.
import t from "tap";
import { selfRoute } from "../../src/apid/self.js";
import { createLanes } from "../../src/apid/lanes.js";

t.test("a target is this machine at its addresses and localhost, on apid's port only", async (t) => {
  const lanes = createLanes("/nonexistent.sock");
  t.teardown(() => lanes.close());
  const route = selfRoute(lanes, 50000, () => ["10.5.0.3", "fd00::3", "127.0.0.1"]);
  const cases: [string, boolean][] = [
    ["10.5.0.3:50000", true],
    ["[fd00::3]:50000", true],
    ["[FD00::3]:50000", true],
    ["localhost:50000", true],
    ["127.0.0.1:50000", true],
    ["10.5.0.3:50001", false],
    ["10.5.0.4:50000", false],
    ["node-b:50000", false],
    ["10.5.0.3", false],
  ];
  t.same(
    cases.map(([target]) => [target, route.isSelf(target)]),
    cases,
  );
});
