// The kubelet service definition: skipped where the image has no kubelet.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { kubelet } from "../../../src/machined/services/kubelet.js";
import { tempDir, testContext } from "../helpers.js";

t.test("is skipped, saying where it looked, when the image has no kubelet binary", async (t) => {
  const dir = tempDir(t);
  t.equal(kubelet.skip?.(testContext(dir)), `no kubelet binary in the image (${join(dir, "bin", "kubelet")})`);
});

t.test("is not skipped when the kubelet binary is there", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "kubelet"), "", { mode: 0o755 });
  t.equal(kubelet.skip?.(testContext(dir)), undefined);
});

t.test("depends on containerd, restarts forever and checks kubelet's healthz", async (t) => {
  t.equal(kubelet.id, "kubelet");
  t.same(kubelet.dependsOn, ["containerd"]);
  t.equal(kubelet.restart, "forever");
  t.equal(kubelet.health?.initialDelayMs, 2000);
  t.equal(kubelet.health?.intervalMs, 5000);
});
