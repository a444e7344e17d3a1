// The pod-routes service: after kubelet and its client certificate, run
// inside machined, skipped when the cluster brings its own CNI.
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { podRoutes } from "../../../src/machined/services/pod-routes.js";
import { configOf, worker } from "../../config/fixtures.js";
import { testContext } from "../helpers.js";

const withCni = (cni: "kiln" | "none" | undefined): MachineConfig => {
  const c = configOf(worker({}));
  return { ...c, cluster: { ...c.cluster, network: cni ? { cni } : {} } } as MachineConfig;
};

t.test("runs after kubelet, once it has its client certificate, restarted forever", async (t) => {
  t.equal(podRoutes.id, "pod-routes");
  t.same(podRoutes.dependsOn, ["kubelet"]);
  t.same(podRoutes.conditions?.map((c) => c.describe), ["the kubelet's client certificate"]);
  t.equal(podRoutes.restart, "forever");
});

t.test("runs with cni kiln (the default) and is skipped with none, saying why", async (t) => {
  const m = testContext("/nonexistent");
  t.equal(podRoutes.skip?.({ ...m, config: withCni(undefined) }), undefined);
  t.equal(podRoutes.skip?.({ ...m, config: withCni("kiln") }), undefined);
  t.match(podRoutes.skip?.({ ...m, config: withCni("none") }), /cluster\.network\.cni is none/);
});
