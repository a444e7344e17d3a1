// apidSettled: what the runtime modules wait for. It resolves when apid is
// healthy, when it will not be (skipped, failed, stopped, never registered),
// and at the cap otherwise; while apid starts it keeps waiting.
import t from "tap";
import type { ServiceStatus } from "../../../src/machined/service.js";
import { apidSettled } from "../../../src/machined/services/apid-settled.js";

/** apid's status with these fields. */
function apid(over: Partial<ServiceStatus>): ServiceStatus {
  return { id: "apid", state: "Running", message: "", healthy: null, healthMessage: "", healthChangedAt: undefined, pid: 10, ...over } as ServiceStatus;
}

/** Resolves to how many times `status` was read before apidSettled resolved. */
async function looks(answers: ServiceStatus[][], capMs = 5000): Promise<number> {
  let n = 0;
  await apidSettled(() => answers[Math.min(n++, answers.length - 1)]!, capMs, 1);
  return n;
}

t.test("waits while apid starts, resolves once it is healthy", async (t) => {
  t.equal(await looks([[apid({ state: "Preparing" })], [apid({ healthy: null })], [apid({ healthy: false })], [apid({ healthy: true })]]), 4);
});

t.test("resolves at once when apid will not answer, or is not there", async (t) => {
  for (const state of ["Skipped", "Failed", "Finished", "Stopping"] as const) t.equal(await looks([[apid({ state })]]), 1, state);
  t.equal(await looks([[{ ...apid({}), id: "containerd" }]]), 1, "no apid");
});

t.test("stops waiting at the cap", async (t) => {
  const start = Date.now();
  await apidSettled(() => [apid({ healthy: false })], 50, 5);
  t.ok(Date.now() - start >= 50, "waited the cap");
});
