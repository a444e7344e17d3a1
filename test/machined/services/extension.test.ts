// Extension services: a machine.services entry becomes a service definition
// with its health check, restart policy and environment.
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import t from "tap";
import type { ExtensionService } from "../../../src/config/schema.js";
import type { MachineContext } from "../../../src/machined/service.js";
import { extensionService } from "../../../src/machined/services/extension.js";
import { configOf, service, worker } from "../../config/fixtures.js";
import { memorySink, type Teardown, tempDir, testContext, waitFor } from "../helpers.js";

/** The parsed (defaults filled) spec of one extension service. */
function spec(id: string, extra: Record<string, unknown> = {}): ExtensionService {
  return configOf(worker({ services: [service(id, extra)] })).machine.services![0]!;
}

/** Runs a definition's health check once; its error message, or "healthy". */
async function checkOnce(m: MachineContext, s: ExtensionService): Promise<string> {
  const def = extensionService(s);
  if (!def.health) return "no check";
  return def.health.check(m, new AbortController().signal).then(
    () => "healthy",
    (e: Error) => e.message,
  );
}

/** A local HTTP server answering `status`; its URL. */
async function httpServer(t: Teardown, status: number): Promise<string> {
  const server = createHttpServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise((r) => server.close(r)));
  const addr = server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}/healthz`;
}

t.test("defaults to restart forever and no dependencies", async (t) => {
  const def = extensionService(spec("web"));
  t.equal(def.id, "web");
  t.equal(def.restart, "forever");
  t.same(def.dependsOn, []);
  t.equal(def.health, undefined);
  t.notOk("stopGraceMs" in def, "no grace period unless given");
});

t.test("keeps the restart policy, dependencies and grace period it is given", async (t) => {
  const def = extensionService(spec("warm", { restart: "until-success", dependsOn: ["containerd"], stopGraceMs: 1500 }));
  t.equal(def.restart, "until-success");
  t.same(def.dependsOn, ["containerd"]);
  t.equal(def.stopGraceMs, 1500);
  t.equal(extensionService(spec("once", { restart: "once" })).restart, "once");
});

t.test("maps an exec health check to running the command", async (t) => {
  const m = testContext(tempDir(t));
  t.equal(await checkOnce(m, spec("a", { health: { exec: ["/bin/sh", "-c", "exit 0"] } })), "healthy");
  t.equal(
    await checkOnce(m, spec("b", { health: { exec: ["/bin/sh", "-c", "echo warming up; exit 3"] } })),
    "/bin/sh exited with code 3: warming up",
  );
});

t.test("maps an http health check to a GET of the URL", async (t) => {
  const m = testContext(tempDir(t));
  t.equal(await checkOnce(m, spec("a", { health: { http: await httpServer(t, 204) } })), "healthy");
  const down = await httpServer(t, 503);
  t.equal(await checkOnce(m, spec("b", { health: { http: down } })), `GET ${down}: HTTP 503`);
});

t.test("maps a unixSocket health check to connecting to the socket", async (t) => {
  const dir = tempDir(t);
  const m = testContext(dir);
  const path = join(dir, "svc.sock");
  t.equal(await checkOnce(m, spec("a", { health: { unixSocket: path } })), `connecting to ${path}`);
  const server = createNetServer((c) => c.end());
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => new Promise((r) => server.close(r)));
  t.equal(await checkOnce(m, spec("a", { health: { unixSocket: path } })), "healthy");
});

t.test("runs the command with PATH, machine.env and its own env on top", async (t) => {
  const dir = tempDir(t);
  const m = { ...testContext(dir), env: { SHARED: "machine", ROOT: "machine" } };
  const s = spec("env", { command: ["/bin/sh", "-c", 'printf "%s|%s|%s" "$PATH" "$SHARED" "$ROOT"'], env: { ROOT: "/var/lib/env" } });
  const sink = memorySink();
  const run = extensionService(s).run(m).start(sink, { id: "env", cgroupRoot: join(dir, "cgroup") });
  t.same(await run.exited, { code: 0, signal: null });
  await waitFor("the output", () => sink.text().endsWith("/var/lib/env")).catch(() => {});
  t.equal(sink.text(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|machine|/var/lib/env");
});
