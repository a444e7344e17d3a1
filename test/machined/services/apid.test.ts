// apid as machined runs it: the bundled program, started by the real
// supervisor from its service definition (as apid's user when the test runs
// as root), through maintenance mode to mTLS, and back after kill -9.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, status } from "@grpc/grpc-js";
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import { startMachineApi } from "../../../src/machined/api/server.js";
import type { MachineConfig } from "../../../src/config/schema.js";
import { createSupervisor } from "../../../src/machined/supervisor/supervisor.js";
import { bundle, entries } from "../../../src/image/bundle.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { fingerprint } from "../../../src/pki/fingerprint.js";
import { apidOwner, apidPaths, createApidControl } from "../../../src/machined/services/apid.js";
import { configOf, worker } from "../../config/fixtures.js";
import { createFakeMachine } from "../api/fixtures/fake-machine.js";
import { freePort, testContext, waitFor } from "../helpers.js";
import { createTestPki } from "../../apid/fixtures/pki.js";
import { apidClient, callUnary } from "../../apid/fixtures/stack.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const machine = (name: string) => `/kiln.machine.v1.MachineService/${name}`;

/** Polls an async check until it holds. */
async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test("maintenance mode, then mTLS after a config, then back after kill -9", async (t) => {
  const base = mkdtempSync(join(tmpdir(), "kiln-apid-svc-"));
  // apid's user (when we are root) must reach its files and the bundle, as on a machine where /run is 0755.
  chmodSync(base, 0o755);
  mkdirSync(join(base, "run"), { mode: 0o755 });
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const built = await bundle({ root, outDir: join(base, "dist"), only: entries.filter((e) => e.out === "apid.cjs") });
  t.same(built.built, ["apid.cjs"]);

  const pki = await createTestPki();
  const ctx = testContext(base);
  const fake = createFakeMachine();
  const api = await startMachineApi(fake, [{ path: apidPaths(ctx).machinedSocket, owner: apidOwner(), apid: true }], { node: () => "node-a", closeGraceMs: 100 });
  const events = createEventBus({ capacity: 100 });
  const supervisor = createSupervisor({ context: ctx, events, backoff: { initialMs: 50 }, log: () => {} });
  const port = await freePort();
  const logged: string[] = [];
  const control = createApidControl({
    supervisor,
    events,
    log: (l) => void logged.push(l),
    service: { command: [process.execPath, join(base, "dist", "apid.cjs")], port },
    restartDelayMs: 10,
  });
  supervisor.register(control.definition);
  t.teardown(async () => {
    await supervisor.stopAll(2000);
    await api.close();
  });
  await supervisor.start("apid");

  // Maintenance: the fingerprint on the console and as an event; only Version and ApplyConfiguration.
  await waitFor("the fingerprint", () => logged.some((l) => l.startsWith("maintenance mode: apid certificate fingerprint ")), 10_000);
  const serverCrt = readFileSync(join(apidPaths(ctx).tls, "server.crt"), "utf8");
  t.same(logged[0], `maintenance mode: apid certificate fingerprint ${fingerprint(serverCrt)}`);
  const insecure = apidClient(t, port, { crt: serverCrt, key: "" });
  await until("apid in maintenance mode", async () => (await callUnary(insecure, machine("Version"))).code === status.OK);
  t.equal((await callUnary(insecure, machine("ServiceList"))).code, status.PERMISSION_DENIED);
  if (apidOwner()) t.same(processOf(supervisor, "apid"), { uid: 50, capEff: "0000000000000000" }, "runs as apid's user, with no capabilities");

  // A config arrives: apid restarts with a certificate from the machine CA and wants client certificates.
  const config: MachineConfig = configOf(worker({ ca: { crt: encodeBase64Pem(pki.ca.crt), key: encodeBase64Pem(pki.ca.key) } }));
  ctx.config = config;
  control.afterApply(undefined, config);
  const admin = apidClient(t, port, pki.ca, pki.clients.admin);
  await until("apid over mTLS", async () => (await callUnary(admin, machine("ServiceList"))).code === status.OK);
  t.equal((await callUnary(apidClient(t, port, pki.ca), machine("Version"))).code, status.UNAVAILABLE, "no client certificate, no answer");
  t.equal((await callUnary(insecure, machine("Version"))).code, status.UNAVAILABLE, "the maintenance certificate is gone");

  // kill -9: the supervisor starts it again and it answers.
  const pid = supervisor.status().find((s) => s.id === "apid")!.pid;
  process.kill(pid, "SIGKILL");
  await until("a new apid", async () => {
    const s = supervisor.status().find((x) => x.id === "apid")!;
    return s.state === "Running" && s.pid !== pid && s.pid !== 0;
  });
  await until("the new apid to answer", async () => (await callUnary(freshClient(t, port, pki), machine("Version"))).code === status.OK);
  t.pass("answers again");
});

/** A new admin client (a new channel, not one backing off from the killed process). */
function freshClient(t: { teardown(fn: () => unknown): void }, port: number, pki: Awaited<ReturnType<typeof createTestPki>>): Client {
  return apidClient(t, port, pki.ca, pki.clients.admin);
}

/** The uid and effective capabilities of a service's main process, from /proc. */
function processOf(supervisor: ReturnType<typeof createSupervisor>, id: string): { uid: number; capEff: string } {
  const pid = supervisor.status().find((s) => s.id === id)!.pid;
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(text)?.[1]), capEff: /^CapEff:\s+(\w+)/m.exec(text)?.[1] ?? "" };
}
