// Boot work no caller waits for (the runtime modules: only the kubelet and
// kube-proxy need them) waits for apid first. Under TCG apid's node start,
// its certificate and that work share two vCPUs, and the machine is out of
// reach until apid answers: loading the runtime set beside them put ~0.6 s
// on the boot (kernel start to apid answering).
import type { ServiceStatus } from "../service.js";

const starting = new Set(["Waiting", "Preparing", "Running"]);

/** Resolves once apid answers (healthy), will not (skipped, failed, stopped, not registered), or `capMs` has passed. */
export async function apidSettled(status: () => ServiceStatus[], capMs: number, pollMs = 100): Promise<void> {
  const until = Date.now() + capMs;
  for (;;) {
    const apid = status().find((s) => s.id === "apid");
    if (!apid || apid.healthy === true || !starting.has(apid.state) || Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
