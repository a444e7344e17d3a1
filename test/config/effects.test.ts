import t from "tap";
import { effects, needsRebootAt } from "../../src/config/effects.js";
import { leafPaths, } from "../../src/config/introspect.js";
import { machineConfigSchema } from "../../src/config/schema.js";

const leaves = leafPaths(machineConfigSchema);

t.test("says how every leaf of the schema takes effect", async (t) => {
  const missing = leaves.filter((leaf) => !(leaf in effects));
  t.strictSame(missing, [], "add these schema paths to src/config/effects.ts: live (and by what), or reboot");
});

t.test("names only schema leaves", async (t) => {
  const unknown = Object.keys(effects).filter((path) => !leaves.includes(path));
  t.strictSame(unknown, [], "these effects.ts entries are not leaves of the schema");
});

t.test("needs a reboot for a section when any field under it does", async (t) => {
  t.equal(needsRebootAt("machine.install"), true);
  t.equal(needsRebootAt("machine.files[]"), false);
  t.equal(needsRebootAt("machine.network.extraHostEntries[]"), false);
  t.equal(needsRebootAt("machine.kubelet.extraMounts[]"), true);
  t.equal(needsRebootAt("machine.nonsense"), true, "an unknown path needs one, to be safe");
});
