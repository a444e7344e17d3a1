import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { runControlPlaneControllers } from "../../../src/machined/kubernetes/controllers.js";
import { freePort } from "../../fixtures/kubernetes/control-plane.js";

t.test("retries the bootstrap resources while the API server does not answer, and stops on its signal", async (t) => {
  const port = await freePort();
  const ac = new AbortController();
  const log: string[] = [];
  const config = { cluster: { token: "abcdef.0123456789abcdef" } } as MachineConfig;
  const running = runControlPlaneControllers({ server: `https://127.0.0.1:${port}`, ca: "", token: "x" }, config, ac.signal, {
    log: (l) => log.push(l),
    minBackoffMs: 20,
    maxBackoffMs: 40,
  });
  while (log.length < 3) await new Promise((r) => setTimeout(r, 10));
  ac.abort();
  await running;
  t.match(log[0], /^bootstrap resources: POST \/api\/v1\/namespaces\/kube-system\/secrets: .*ECONNREFUSED.*; again in 20 ms$/);
  t.match(log[2], /again in 40 ms$/, "the wait grows to its limit");
});
