import t from "tap";
import { effects, effectsUnder, needsRebootAt, noEffectYet } from "../../src/config/effects.js";
import { leafPaths, schemaAt } from "../../src/config/introspect.js";
import { formatPath } from "../../src/config/issues.js";
import { machineConfigSchema } from "../../src/config/schema.js";

const leaves = leafPaths(machineConfigSchema);

t.test("says how every leaf of the schema takes effect", async (t) => {
  const missing = leaves.filter((leaf) => !(leaf in effects));
  t.strictSame(missing, [], "add these schema paths to src/config/effects.ts: live (and by what), reboot, or not-yet");
});

t.test("names only schema leaves", async (t) => {
  const unknown = Object.keys(effects).filter((path) => !leaves.includes(path));
  t.strictSame(unknown, [], "these effects.ts entries are not leaves of the schema");
});

t.test("warns about exactly the fields marked not-yet", async (t) => {
  const notYet = Object.keys(effects).filter((path) => effects[path]!.t === "not-yet");
  const warned = noEffectYet.map((f) => formatPath(f.path));
  for (const path of notYet) t.ok(warned.some((w) => path === w || path.startsWith(`${w}[`) || path.startsWith(`${w}.`)), `${path} has a warning`);
  for (const field of noEffectYet) {
    t.ok(schemaAt(machineConfigSchema, field.path), `${formatPath(field.path)} is in the schema`);
    t.ok(effectsUnder(formatPath(field.path)).every((e) => e.t === "not-yet"), `${formatPath(field.path)} is not-yet throughout`);
  }
});

t.test("needs a reboot for a section when any field under it does", async (t) => {
  t.equal(needsRebootAt("machine.install"), true);
  t.equal(needsRebootAt("machine.files[]"), false);
  t.equal(needsRebootAt("machine.network.extraHostEntries[]"), false);
  t.equal(needsRebootAt("machine.token"), false, "fields with no effect need no reboot either");
  t.equal(needsRebootAt("machine.kubelet.extraMounts[]"), true);
  t.equal(needsRebootAt("machine.nonsense"), true, "an unknown path needs one, to be safe");
});
