// The supervisor's state machine, dependency order and stop order, over a
// fake runner (no processes).
import { join } from "node:path";
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import { createLogStore } from "../../../src/machined/logs/log-store.js";
import type { ServiceDefinition, ServiceStatus } from "../../../src/machined/service.js";
import { createSupervisor } from "../../../src/machined/supervisor/supervisor.js";
import { type FakeRun, fakeRunner, type Teardown, tempDir, testContext, waitFor } from "../helpers.js";

/** A supervisor over a temp dir with fast backoff; stopped at teardown. */
function harness(t: Teardown) {
  const dir = tempDir(t);
  const events = createEventBus({ capacity: 10_000 });
  const sup = createSupervisor({
    context: testContext(dir),
    events,
    logs: createLogStore({ dir: join(dir, "log") }),
    backoff: { initialMs: 5, maxMs: 20 },
  });
  t.teardown(() => sup.stopAll(500));
  const status = (id: string) => sup.status().find((s) => s.id === id) as ServiceStatus;
  /** The states service `id` went through, from the event ring. */
  const history = async (id: string) => {
    const out: string[] = [];
    for await (const e of events.watch({ tail: -1, sinceId: 0, follow: false })) {
      if (e.payload.t === "service" && e.payload.id === id) out.push(e.payload.state);
    }
    return out;
  };
  const until = (id: string, state: string, ms = 3000) => waitFor(`${id} ${state}`, () => status(id).state === state, ms);
  return { sup, events, status, history, until };
}

/** A definition over a fake runner. */
function def(id: string, over: Partial<ServiceDefinition> = {}, fake = fakeRunner()): ServiceDefinition {
  return { id, dependsOn: [], run: () => fake.runner, restart: "forever", ...over };
}

t.test("moves through Preparing and Running to Stopping and Finished", async (t) => {
  const h = harness(t);
  let prepared = false;
  const prepare = async () => {
    prepared = true;
  };
  h.sup.register(def("svc", { prepare }));
  t.equal(h.status("svc").state, "Finished");
  t.equal(h.status("svc").message, "not started");
  await h.sup.start("svc");
  await h.until("svc", "Running");
  t.ok(prepared);
  t.equal(h.status("svc").pid, 1000);
  t.equal(await h.sup.stop("svc"), "service svc: stopped");
  t.same(await h.history("svc"), ["Finished", "Preparing", "Running", "Stopping", "Finished"]);
  t.equal(h.status("svc").pid, 0);
});

t.test("publishes each change as a service event with state, message and health", async (t) => {
  const h = harness(t);
  h.sup.register(def("svc"));
  await h.sup.start("svc");
  await h.until("svc", "Running");
  const evs = [];
  for await (const e of h.events.watch({ tail: -1, sinceId: 0, follow: false })) evs.push(e.payload);
  t.same(evs.at(-1), { t: "service", id: "svc", state: "Running", message: "running", healthy: null, healthMessage: "" });
});

t.test("records the exit code: once + exit 3 is Failed, once + exit 0 is Finished", async (t) => {
  const h = harness(t);
  h.sup.register(def("bad", { restart: "once" }, fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 3 })) })));
  h.sup.register(def("good", { restart: "once" }, fakeRunner({ onStart: (r) => setImmediate(() => r.exit({ code: 0 })) })));
  await h.sup.startAll();
  await h.until("bad", "Failed");
  await h.until("good", "Finished");
  t.equal(h.status("bad").message, "exited with code 3");
  t.equal(h.status("good").message, "exited with code 0");
});

t.test("shows the restart delay in the Waiting message and counts restarts", async (t) => {
  const h = harness(t);
  h.sup.register(def("svc", {}, fakeRunner({ onStart: (r) => setTimeout(() => r.exit({ code: 1 }), 20) })));
  await h.sup.start("svc");
  await waitFor("3 restarts", () => h.status("svc").restarts >= 3);
  const messages: string[] = [];
  for await (const e of h.events.watch({ tail: -1, sinceId: 0, follow: false })) {
    if (e.payload.t === "service" && e.payload.state === "Waiting") messages.push(e.payload.message);
  }
  t.match(messages[0], /^exited with code 1; restarting in \d+\.\ds$/);
});

t.test("starts a service only when its dependencies are Running and healthy", async (t) => {
  const h = harness(t);
  let healthy = false;
  const check = async () => {
    if (!healthy) throw new Error("not yet");
  };
  h.sup.register(def("b", { dependsOn: ["a"] }));
  h.sup.register(def("a", { health: { check, intervalMs: 10, startPeriodMs: 0 } }));
  await h.sup.startAll();
  await h.until("a", "Running");
  await waitFor("a unhealthy", () => h.status("a").healthy === false);
  t.equal(h.status("a").healthMessage, "not yet");
  t.equal(h.status("b").state, "Waiting");
  t.equal(h.status("b").message, "waiting for a");
  healthy = true;
  await h.until("b", "Running");
  t.equal(h.status("a").healthy, true);
  t.type(h.status("a").healthChangedAt, Date);
});

t.test("publishes each health change", async (t) => {
  const h = harness(t);
  let failOnce = false;
  const check = async () => {
    if (!failOnce) return;
    failOnce = false;
    throw new Error("down");
  };
  h.sup.register(def("a", { health: { check, intervalMs: 10 } }));
  const flips: (boolean | null)[] = [];
  const ac = new AbortController();
  const watching = (async () => {
    for await (const e of h.events.watch({ tail: 0, sinceId: 0, follow: true, signal: ac.signal })) {
      if (e.payload.t === "service" && e.payload.healthy !== flips.at(-1)) flips.push(e.payload.healthy);
    }
  })();
  await h.sup.start("a");
  await waitFor("healthy", () => h.status("a").healthy === true);
  failOnce = true;
  await waitFor("healthy again", () => flips.length >= 4);
  ac.abort();
  await watching;
  t.same(flips.slice(0, 4), [null, true, false, true]);
});

t.test("skips a service with its reason, and the services that depend on it", async (t) => {
  const h = harness(t);
  h.sup.register(def("kubelet", { skip: () => "no kubelet binary" }));
  h.sup.register(def("addon", { dependsOn: ["kubelet"] }));
  await h.sup.startAll();
  await h.until("kubelet", "Skipped");
  await h.until("addon", "Skipped");
  t.equal(h.status("kubelet").message, "no kubelet binary");
  t.equal(h.status("addon").message, "dependency kubelet was skipped");
});

t.test("waits for conditions in state Waiting, naming them", async (t) => {
  const h = harness(t);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let note!: (detail: string) => void;
  h.sup.register(def("svc", { conditions: [{ describe: "network", wait: (_m, _s, n) => {
    note = n!;
    return gate;
  } }] }));
  await h.sup.start("svc");
  await h.until("svc", "Waiting");
  t.equal(h.status("svc").message, "waiting for network");
  note("no lease yet");
  t.equal(h.status("svc").message, "waiting for network: no lease yet", "what the condition last saw joins the message");
  open();
  await h.until("svc", "Running");
});

t.test("a failing prepare makes the service Failed, keeping the cause", async (t) => {
  const h = harness(t);
  h.sup.register(def("svc", { prepare: async () => Promise.reject(new Error("disk full")) }));
  await h.sup.start("svc");
  await h.until("svc", "Failed");
  t.equal(h.status("svc").message, "preparing: disk full");
});

t.test("prepareAlongside: the process starts while prepare runs, and Running waits for neither", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  let finish!: () => void;
  let runsWhenPrepareStarted = -1;
  const prepare = () => {
    runsWhenPrepareStarted = fake.runs.length;
    return new Promise<void>((r) => (finish = r));
  };
  h.sup.register(def("svc", { prepareAlongside: true, prepare }, fake));
  await h.sup.start("svc");
  await h.until("svc", "Running");
  t.equal(runsWhenPrepareStarted, 0, "prepare was called before the process started");
  t.equal(fake.runs.length, 1, "the process runs while prepare has not finished");
  finish();
  t.equal(await h.sup.stop("svc"), "service svc: stopped");
  t.same(await h.history("svc"), ["Finished", "Preparing", "Running", "Stopping", "Finished"]);
});

t.test("prepareAlongside: a failing prepare stops the running process and fails the start with its cause", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  let fail!: (err: Error) => void;
  h.sup.register(def("svc", { prepareAlongside: true, prepare: () => new Promise<void>((_, no) => (fail = no)) }, fake));
  await h.sup.start("svc");
  await h.until("svc", "Running");
  fail(new Error("the CA key does not parse"));
  await h.until("svc", "Failed");
  t.equal(h.status("svc").message, "preparing: the CA key does not parse");
  t.same(fake.last().signals, ["SIGTERM"], "the process was stopped");
  t.equal(fake.runs.length, 1, "and not started again");
});

t.test("prepareAlongside: a stop waits for prepare, so the next start's prepare never overlaps it", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  let finish!: () => void;
  let running = 0;
  let most = 0;
  const prepare = () => {
    most = Math.max(most, ++running);
    return new Promise<void>((r) => (finish = r)).finally(() => running--);
  };
  h.sup.register(def("svc", { prepareAlongside: true, prepare }, fake));
  await h.sup.start("svc");
  await h.until("svc", "Running");
  let stopped = false;
  const stopping = h.sup.stop("svc").then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(stopped, "the stop waits while prepare runs");
  finish();
  await stopping;
  await h.sup.start("svc");
  await h.until("svc", "Running");
  finish();
  t.equal(most, 1, "one prepare at a time");
});

t.test("prepareAlongside: a run() that throws fails the start, which ends only once prepare has", async (t) => {
  const h = harness(t);
  let finish!: () => void;
  let prepareDone = false;
  const prepare = async () => {
    await new Promise<void>((r) => (finish = r));
    prepareDone = true;
  };
  const run = () => {
    throw new Error("no command");
  };
  h.sup.register(def("svc", { prepareAlongside: true, prepare, run }));
  await h.sup.start("svc");
  await new Promise((r) => setTimeout(r, 30));
  t.not(h.status("svc").state, "Failed", "not ended while prepare runs");
  finish();
  await h.until("svc", "Failed");
  t.ok(prepareDone);
  t.match(h.status("svc").message, /no command/);
});

t.test("stopping a Waiting service never starts it", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  h.sup.register(def("svc", { dependsOn: ["dep"] }, fake));
  h.sup.register(def("dep", { skip: undefined, conditions: [{ describe: "forever", wait: (_m, s) => new Promise((_, no) => s.addEventListener("abort", no)) }] }));
  await h.sup.startAll();
  await h.until("svc", "Waiting");
  await h.sup.stop("svc");
  t.equal(h.status("svc").state, "Finished");
  t.equal(fake.runs.length, 0);
});

t.test("rejects a dependency cycle at register", async (t) => {
  const h = harness(t);
  h.sup.register(def("a", { dependsOn: ["b"] }));
  t.throws(() => h.sup.register(def("b", { dependsOn: ["a"] })), { message: "dependency cycle: a → b → a" });
  t.same(
    h.sup.status().map((s) => s.id),
    ["a"],
  );
});

t.test("rejects duplicate ids and ids that are not file names", async (t) => {
  const h = harness(t);
  h.sup.register(def("a"));
  t.throws(() => h.sup.register(def("a")), { message: 'service "a" is already registered' });
  t.throws(() => h.sup.register(def("../etc")), /Expected a service id of letters, digits/);
});

t.test("throws not-found for unknown ids", async (t) => {
  const h = harness(t);
  h.sup.register(def("a"));
  const calls: (() => Promise<unknown>)[] = [() => h.sup.start("x"), () => h.sup.stop("x"), () => h.sup.restart("x"), () => h.sup.unregister("x")];
  for (const call of calls) {
    await t.rejects(call(), { kind: "not-found", message: 'unknown service "x" (registered: a)' });
  }
  t.throws(() => h.sup.logs("x", 10, false), { name: "MachineError", kind: "not-found" });
});

t.test("a service whose dependency is not registered fails to start, naming it", async (t) => {
  const h = harness(t);
  h.sup.register(def("a", { dependsOn: ["ghost"] }));
  await t.rejects(h.sup.start("a"), { kind: "refused", message: "service a depends on unknown service(s): ghost" });
  await h.sup.startAll();
  t.equal(h.status("a").state, "Failed");
  t.equal(h.status("a").message, "depends on unknown service(s): ghost");
});

t.test("start on a running service changes nothing; restart runs it anew", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  h.sup.register(def("svc", {}, fake));
  await h.sup.start("svc");
  await h.until("svc", "Running");
  t.equal(await h.sup.start("svc"), "service svc is already Running");
  await h.sup.restart("svc");
  await h.until("svc", "Running");
  t.equal(fake.runs.length, 2);
  t.same(fake.runs[0]!.signals, ["SIGTERM"]);
});

t.test("unregister stops the service and forgets it", async (t) => {
  const h = harness(t);
  const fake = fakeRunner();
  h.sup.register(def("ext", {}, fake));
  await h.sup.start("ext");
  await h.until("ext", "Running");
  await h.sup.unregister("ext");
  t.same(h.sup.status(), []);
  t.equal(fake.last().killedAll, true);
  h.sup.register(def("ext", {}, fake));
  t.equal(h.sup.status()[0]?.state, "Finished");
});

t.test("stopAll stops dependents before their dependencies", async (t) => {
  const h = harness(t);
  const order: string[] = [];
  /** A service recording when it is signalled. */
  const mk = (id: string, deps: string[]) => {
    const onStart = (r: FakeRun) => {
      r.signal = (s) => {
        order.push(id);
        r.exit({ signal: s });
      };
    };
    return def(id, { dependsOn: deps }, fakeRunner({ onStart }));
  };
  h.sup.register(mk("containerd", []));
  h.sup.register(mk("kubelet", ["containerd"]));
  h.sup.register(mk("addon", ["kubelet"]));
  h.sup.register(mk("other", ["containerd"]));
  await h.sup.startAll();
  await h.until("addon", "Running");
  await h.until("other", "Running");
  await h.sup.stopAll();
  t.equal(order.at(-1), "containerd");
  t.ok(order.indexOf("addon") < order.indexOf("kubelet"));
  t.same(new Set(h.sup.status().map((s) => s.state)), new Set(["Finished"]));
});

t.test("stopAll takes no longer than the grace in total", async (t) => {
  const h = harness(t);
  const stubborn = (id: string, deps: string[]) => def(id, { dependsOn: deps, stopGraceMs: 10_000 }, fakeRunner({ ignoreTerm: true }));
  h.sup.register(stubborn("a", []));
  h.sup.register(stubborn("b", ["a"]));
  h.sup.register(stubborn("c", ["b"]));
  await h.sup.startAll();
  await h.until("c", "Running");
  const t0 = Date.now();
  await h.sup.stopAll(300);
  const took = Date.now() - t0;
  // Not 3 × 10 s of per-service grace: the 300 ms bound the whole stop (a
  // wide margin above it, since the tier runs two files at once on shared cores).
  t.ok(took >= 290 && took < 5000, `took ${took} ms`);
  t.match(h.status("a").message, /killed after \d+ ms grace/);
});

t.test("reads a service's log through the supervisor", async (t) => {
  const h = harness(t);
  const runner = fakeRunner();
  h.sup.register(
    def("svc", {
      run: () => ({
        start: (log) => {
          log.write(Buffer.from("hello from svc\n"));
          return runner.runner.start(log);
        },
      }),
    }),
  );
  await h.sup.start("svc");
  await h.until("svc", "Running");
  const out: string[] = [];
  for await (const c of h.sup.logs("svc", -1, false)) out.push(Buffer.from(c).toString());
  t.same(out, ["hello from svc\n"]);
});
