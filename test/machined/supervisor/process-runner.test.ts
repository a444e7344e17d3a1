// The process runner and the supervisor over real fixture processes,
// without cgroups (cgroup2.test.ts covers them).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import { createLogStore } from "../../../src/machined/logs/log-store.js";
import type { ServiceDefinition, ServiceStatus } from "../../../src/machined/service.js";
import type { Cgroups } from "../../../src/machined/supervisor/cgroups.js";
import { DEFAULT_PATH } from "../../../src/machinery/paths.js";
import { processRunner } from "../../../src/machined/supervisor/process-runner.js";
import { createSupervisor } from "../../../src/machined/supervisor/supervisor.js";
import { alive, fixture, memorySink, type Teardown, tempDir, testContext, waitFor } from "../helpers.js";

/** A supervisor (no cgroups: its cgroupRoot is a plain directory) running `defs`. */
function harness(t: Teardown, ...defs: ServiceDefinition[]) {
  const dir = tempDir(t);
  const logs = createLogStore({ dir: join(dir, "log") });
  const sup = createSupervisor({ context: testContext(dir), events: createEventBus(), logs, backoff: { initialMs: 10, maxMs: 50 }, log: () => {} });
  t.teardown(() => sup.stopAll(1000));
  for (const d of defs) sup.register(d);
  const status = (id: string) => sup.status().find((s) => s.id === id) as ServiceStatus;
  const until = (id: string, state: string, ms = 5000) => waitFor(`${id} ${state}`, () => status(id).state === state, ms);
  return { sup, status, until, logs, dir };
}

/** A service running a fixture. */
function svc(id: string, argv: string[], over: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return { id, dependsOn: [], run: () => processRunner(argv), restart: "forever", ...over };
}

t.test("says once, in machined's log, that services run without cgroups", async (t) => {
  const context = testContext(tempDir(t));
  const said: string[] = [];
  const log = (line: string) => void said.push(line);
  createSupervisor({ context, events: createEventBus(), log });
  createSupervisor({ context, events: createEventBus(), log });
  t.equal(said.length, 1, "once per cgroup root");
  t.match(said[0], /^services run without cgroups: .* is not a cgroup2 mount; stopping a service kills its process group only$/);
});

t.test("reports the exit code of a real process", async (t) => {
  const proc = processRunner(fixture("exit-with.js", "3")).start(memorySink());
  t.ok(proc.pid > 0);
  t.same(await proc.exited, { code: 3, signal: null });
});

t.test("pipes stdout and stderr to the log", async (t) => {
  const log = memorySink();
  await processRunner(fixture("crash.js")).start(log).exited;
  await waitFor("the stack trace", () => log.text().includes("crash.js crashed on purpose"));
  t.match(log.text(), /^crashing \d+\n/);
});

t.test("gives the service only PATH and its own environment", async (t) => {
  process.env.KILN_NOT_FOR_SERVICES = "1";
  t.teardown(() => delete process.env.KILN_NOT_FOR_SERVICES);
  const log = memorySink();
  const argv = [process.execPath, "-e", "console.log(JSON.stringify(process.env))"];
  await processRunner(argv, { env: { FOO: "bar" } }).start(log).exited;
  await waitFor("output", () => log.text().includes("}"));
  const env = JSON.parse(log.text()) as Record<string, string>;
  t.match(env, { FOO: "bar", PATH: DEFAULT_PATH });
  t.notOk("KILN_NOT_FOR_SERVICES" in env, "machined's environment is not inherited");
});

t.test("restarts a crashed process until stopped", async (t) => {
  const h = harness(t, svc("crashy", fixture("crash.js")));
  await h.sup.start("crashy");
  await waitFor("2 restarts", () => h.status("crashy").restarts >= 2);
  t.match(h.status("crashy").message, /exited with code 1; restarting in|running \(restart/);
  await h.sup.stop("crashy");
  t.equal(h.status("crashy").state, "Finished");
  const n = h.status("crashy").restarts;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(h.status("crashy").restarts, n, "no restart after stop");
});

t.test("once: a clean exit is Finished and the exit code of a failure is reported", async (t) => {
  const h = harness(t, svc("ok", fixture("exit-with.js", "0"), { restart: "once" }), svc("bad", fixture("exit-with.js", "3"), { restart: "once" }));
  await h.sup.startAll();
  await h.until("ok", "Finished");
  await h.until("bad", "Failed");
  t.equal(h.status("ok").message, "exited with code 0");
  t.equal(h.status("bad").message, "exited with code 3");
  t.equal(h.status("bad").restarts, 0);
});

t.test("until-success: runs again after failures and stops after a clean exit", async (t) => {
  const dir = tempDir(t);
  const counter = join(dir, "runs");
  const h = harness(t, svc("job", fixture("fail-then-succeed.js", counter, "2"), { restart: "until-success" }));
  await h.sup.start("job");
  await h.until("job", "Finished");
  t.equal(readFileSync(counter, "utf8"), "3");
  t.equal(h.status("job").message, "exited with code 0");
  t.equal(h.status("job").restarts, 2);
});

t.test("a program that does not exist fails to start, saying why", async (t) => {
  const h = harness(t, svc("ghost", ["/nonexistent/kiln-ghost"], { restart: "once" }));
  await h.sup.start("ghost");
  await h.until("ghost", "Failed");
  t.match(h.status("ghost").message, /^failed to start: starting \/nonexistent\/kiln-ghost: spawn \/nonexistent\/kiln-ghost ENOENT/);
});

t.test("stopping sends TERM, and KILL after the grace to a process that ignores it", async (t) => {
  const h = harness(t, svc("stubborn", fixture("forever.js", "ignore-term"), { stopGraceMs: 300 }));
  await h.sup.start("stubborn");
  await h.until("stubborn", "Running");
  await waitFor("the TERM handler", () => h.logs.get("stubborn").tail(-1).includes("ready"));
  const pid = h.status("stubborn").pid;
  const t0 = Date.now();
  t.equal(await h.sup.stop("stubborn"), "service stubborn: killed after 300 ms grace");
  t.ok(Date.now() - t0 >= 290);
  t.notOk(alive(pid));
  t.match(h.logs.get("stubborn").tail(-1).toString(), /ignoring SIGTERM/);
});

t.test("without cgroups, stopping kills the process group, grandchildren included", async (t) => {
  const h = harness(t, svc("parent", fixture("spawn-grandchildren.js", "3")));
  await h.sup.start("parent");
  await waitFor("grandchildren", () => h.logs.get("parent").tail(-1).includes("grandchildren"));
  const { grandchildren } = JSON.parse(h.logs.get("parent").tail(1).toString()) as { grandchildren: number[] };
  t.ok(grandchildren.every(alive));
  await h.sup.stop("parent");
  await waitFor("grandchildren gone", () => !grandchildren.some(alive));
});

t.test("sets oom_score_adj at birth and restores machined's own", async (t) => {
  const own = readFileSync("/proc/self/oom_score_adj", "utf8").trim();
  const proc = processRunner(fixture("forever.js"), { oomScoreAdj: 500 }).start(memorySink());
  t.teardown(() => proc.killAll());
  t.equal(readFileSync(`/proc/${proc.pid}/oom_score_adj`, "utf8").trim(), "500");
  t.equal(readFileSync("/proc/self/oom_score_adj", "utf8").trim(), own);
  t.throws(() => processRunner(["x"], { oomScoreAdj: 2000 }).start(memorySink()), /`oomScoreAdj` option to be an integer in \[-1000, 1000\], got `2000`/);
});

t.test("spawns inside the service's cgroup and kills that cgroup (injected cgroups)", async (t) => {
  const calls: string[] = [];
  const cgroups: Cgroups = {
    enabled: true,
    within: (path, fn) => {
      calls.push(`enter ${path}`);
      try {
        return fn();
      } finally {
        calls.push(`leave ${path}`);
      }
    },
    kill: (path) => void calls.push(`kill ${path}`),
    pids: () => [],
  };
  const proc = processRunner(fixture("forever.js"), {}, { cgroups }).start(memorySink(), { id: "svc", cgroupRoot: "/unused" });
  calls.push(`spawned ${proc.pid > 0}`);
  proc.killAll();
  proc.signal("SIGKILL");
  await proc.exited;
  t.same(calls, ["enter /system/svc", "leave /system/svc", "spawned true", "kill /system/svc"]);
  const shared = processRunner(fixture("exit-with.js"), { cgroup: "/system/runtime" }, { cgroups }).start(memorySink());
  await shared.exited;
  t.equal(calls.at(-2), "enter /system/runtime");
});

t.test("rejects an empty argv", async (t) => {
  t.throws(() => processRunner([]), /Expected `argv` to name a program, got an empty list/);
});
