// The runtime over a fake supervisor and a temp-dir config store: boot into
// maintenance or from STATE, apply, reconcile services, service actions.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createConfigStore } from "../../../src/machined/config-store.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { EventBus, EventPayload } from "../../../src/machined/events.js";
import type { ApplyRequest } from "../../../src/machined/machine.js";
import type { PowerAction } from "../../../src/machined/power.js";
import { createRuntime } from "../../../src/machined/runtime.js";
import { createRunner, phase, task } from "../../../src/machined/sequences/runner.js";
import type { ServiceDefinition, ServiceStateName, ServiceStatus } from "../../../src/machined/service.js";
import type { Supervisor } from "../../../src/machined/supervisor/supervisor.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { service, worker } from "../../config/fixtures.js";
import { type Teardown, tempDir, testContext, waitFor } from "../helpers.js";
import { identityOf } from "../../../src/machined/machine-id.js";

const identity = identityOf("abcdef0123456789abcdef0123456789");

/** A supervisor that records calls; start and startAll mark services Running. */
function fakeSupervisor() {
  const calls: string[] = [];
  const defs = new Map<string, ServiceDefinition>();
  const states = new Map<string, ServiceStateName>();
  const status = (id: string, state: ServiceStateName): ServiceStatus => ({
    id,
    state,
    message: "",
    healthy: null,
    healthMessage: "",
    healthChangedAt: undefined,
    pid: 0,
    restarts: 0,
    dependsOn: defs.get(id)?.dependsOn ?? [],
    since: new Date(0),
  });
  const sup: Supervisor = {
    register(def) {
      calls.push(`register ${def.id}`);
      defs.set(def.id, def);
      states.set(def.id, "Finished");
    },
    async unregister(id) {
      calls.push(`unregister ${id}`);
      defs.delete(id);
      states.delete(id);
    },
    async startAll() {
      calls.push("startAll");
      for (const id of states.keys()) states.set(id, "Running");
    },
    async start(id) {
      calls.push(`start ${id}`);
      states.set(id, "Running");
      return `service ${id}: started`;
    },
    async stop(id) {
      calls.push(`stop ${id}`);
      states.set(id, "Finished");
      return `service ${id}: stopped`;
    },
    async restart(id) {
      calls.push(`restart ${id}`);
      return `service ${id}: restarted`;
    },
    async stopAll() {
      calls.push("stopAll");
    },
    status: () => [...states].map(([id, state]) => status(id, state)),
    logs: () => ({ async *[Symbol.asyncIterator]() {} }),
  };
  return { sup, calls, defs, states };
}

/** A runtime over a temp dir: store in <dir>/state, live apply under <dir>/root. */
function harness(t: Teardown) {
  const dir = tempDir(t);
  const root = join(dir, "root");
  mkdirSync(join(root, "etc"), { recursive: true });
  const sys = createFakeSys();
  const ctx = { ...testContext(dir), sys };
  const events = createEventBus({ capacity: 10_000 });
  const fake = fakeSupervisor();
  const store = createConfigStore(join(dir, "state"));
  const powered: [PowerAction, boolean][] = [];
  const logged: string[] = [];
  const runner = createRunner({ events, log: () => {}, halt: async (r) => void powered.push([r.action, r.force]) });
  const runtime = createRuntime({
    ctx,
    applyEnv: { sys, platform: "sandbox", root },
    events,
    supervisor: fake.sup,
    runner,
    store,
    identity,
    log: (line) => void logged.push(line),
  });
  /** The boot sequence's config phase, as machined runs it. */
  const boot = () => runner.run("boot", [phase("config", task("loadConfig", async () => void (await runtime.loadConfig())))]);
  return { runtime, boot, ...fake, ctx, sys, events, store, root, powered, logged };
}

/** Every payload published so far, of one kind. */
async function payloads<K extends EventPayload["t"]>(bus: EventBus, kind: K): Promise<Extract<EventPayload, { t: K }>[]> {
  const out: Extract<EventPayload, { t: K }>[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) {
    if (e.payload.t === kind) out.push(e.payload as Extract<EventPayload, { t: K }>);
  }
  return out;
}

const req = (yaml: string, over: Partial<ApplyRequest> = {}): ApplyRequest => ({ yaml, mode: "auto", dryRun: false, tryTimeoutMs: 0, ...over });

const web = service("web", { command: ["/usr/bin/web", "--port", "8080"] });
const cache = service("cache", { dependsOn: ["web"] });

t.test("boots into maintenance mode when STATE holds no config", async (t) => {
  const h = harness(t);
  await h.boot();
  t.same(await payloads(h.events, "machine"), [{ t: "machine", stage: "maintenance", message: "no config yet: waiting for ApplyConfiguration" }]);
  t.equal(h.runtime.version().maintenance, true);
  t.equal(h.runtime.configuration(), undefined);
  t.same(h.calls, [], "no services");
  t.same(h.sys.argsOf("sethostname"), [["kiln-abcdef"]], "named from the machine id");
  t.match(readFileSync(join(h.root, "etc/hosts"), "utf8"), "127.0.1.1 kiln-abcdef\n");
  t.same(
    (await payloads(h.events, "sequence")).map((p) => [p.sequence, p.phase, p.task, p.action, p.error]),
    [
      ["boot", "", "", "start", ""],
      ["boot", "config", "", "start", ""],
      ["boot", "config", "loadConfig", "start", ""],
      ["boot", "config", "loadConfig", "stop", ""],
      ["boot", "config", "", "stop", ""],
      ["boot", "", "", "stop", ""],
    ],
  );
});

t.test("boots into maintenance mode with the errors when the stored config is invalid", async (t) => {
  const h = harness(t);
  h.store.save(worker({}).replace("type: worker", "type: boss"));
  await h.boot();
  t.same(await payloads(h.events, "config"), [
    {
      t: "config",
      source: "state",
      accepted: false,
      errors: ['machine.type: expected one of worker, controlplane, got "boss"'],
      warnings: [],
      message: `${h.store.path} is invalid; staying in maintenance mode`,
    },
  ]);
  t.equal((await payloads(h.events, "machine"))[0]?.stage, "maintenance");
  t.equal(h.runtime.version().maintenance, true);
  t.same(h.calls, []);
});

t.test("boots from the config on STATE: applies it and starts its services", async (t) => {
  const h = harness(t);
  h.store.save(worker({ hostname: "node-1", services: [web] }));
  await h.boot();
  t.same(h.calls, ["register containerd", "register etcd", "register kube-apiserver", "register kube-controller-manager", "register kube-scheduler", "register cluster-controllers", "register kubelet", "register pod-routes", "register kube-proxy-credential", "register kube-proxy", "register web", "startAll"]);
  t.same(h.sys.argsOf("sethostname"), [["node-1"]]);
  t.match(readFileSync(join(h.root, "etc/hosts"), "utf8"), "127.0.1.1 node-1\n");
  t.same(await payloads(h.events, "config"), [
    { t: "config", source: "state", accepted: true, errors: [], warnings: [], message: `loaded ${h.store.path}` },
  ]);
  t.same(await payloads(h.events, "machine"), [{ t: "machine", stage: "running", message: "configured from STATE" }]);
  t.equal(h.runtime.version().maintenance, false);
  t.equal(h.ctx.config?.machine.hostname, "node-1");
});

t.test("applies the first config from maintenance: built-ins and extensions registered, then all started", async (t) => {
  const h = harness(t);
  await h.boot();
  const yaml = worker({ hostname: "node-1", env: { HTTP_PROXY: "http://proxy:3128" }, services: [web, cache] });
  const result = await h.runtime.applyConfiguration(req(yaml));
  t.equal(result.mode, "no-reboot");
  t.same(h.calls, ["register containerd", "register etcd", "register kube-apiserver", "register kube-controller-manager", "register kube-scheduler", "register cluster-controllers", "register kubelet", "register pod-routes", "register kube-proxy-credential", "register kube-proxy", "register web", "register cache", "startAll"]);
  t.same(h.defs.get("cache")?.dependsOn, ["web"]);
  t.equal(h.runtime.version().maintenance, false);
  t.same(h.ctx.env, { HTTP_PROXY: "http://proxy:3128" });
  t.match(h.runtime.configuration(), /hostname: node-1/);
  const stored = h.store.load();
  t.equal(stored.t === "ok" && stored.yaml, yaml, "saved on STATE");
  t.same((await payloads(h.events, "config")).at(-1), {
    t: "config",
    source: "api",
    accepted: true,
    errors: [],
    warnings: [],
    message: "applied (no-reboot)",
  });
});

t.test("replaces only the extension service that changed", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ services: [web, cache] })));
  h.calls.length = 0;
  const web2 = service("web", { command: ["/usr/bin/web", "--port", "9090"] });
  await h.runtime.applyConfiguration(req(worker({ services: [web2, cache] })));
  t.same(h.calls, ["unregister web", "register web", "start web"]);
});

t.test("adds and removes extension services as the config does", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ services: [web] })));
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ services: [service("other")] })));
  t.same(h.calls, ["unregister web", "register other", "start other"]);
  t.same([...h.defs.keys()], ["containerd", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "cluster-controllers", "kubelet", "pod-routes", "kube-proxy-credential", "kube-proxy", "other"]);
});

t.test("changes no service when only system settings change", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ hostname: "a", services: [web] })));
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ hostname: "b", services: [web] })));
  t.same(h.calls, []);
  t.same(h.sys.argsOf("sethostname"), [["kiln-abcdef"], ["a"], ["b"]]);
});

t.test("restarts the running services when machine.env changes", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ env: { A: "1" }, services: [web, cache] })));
  h.states.set("kubelet", "Skipped");
  for (const id of ["pod-routes", "kube-proxy-credential", "kube-proxy"]) h.states.set(id, "Skipped"); // as a skipped kubelet leaves them
  h.states.set("etcd", "Skipped");
  for (const id of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "cluster-controllers"]) h.states.set(id, "Skipped");
  h.states.set("cache", "Failed");
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ env: { A: "2" }, services: [web, cache] })));
  t.same(h.calls, ["restart containerd", "restart web"]);
  t.same(h.ctx.env, { A: "2" });
});

t.test("restarts a running kubelet alone when machine.kubelet changes", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ services: [web] })));
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ kubelet: { extraArgs: { "max-pods": "150" } }, services: [web] })));
  t.same(h.calls, ["restart kubelet"]);
  h.states.set("kubelet", "Skipped");
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ kubelet: { extraArgs: { "max-pods": "200" } }, services: [web] })));
  t.same(h.calls, [], "a skipped kubelet stays as it is");
});

t.test("restarts a running containerd alone when machine.registries changes", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ services: [web] })));
  h.calls.length = 0;
  const mirror = (url: string) => ({ mirrors: [{ registry: "docker.io", endpoints: [url] }] });
  await h.runtime.applyConfiguration(req(worker({ registries: mirror("https://mirror.local:5000"), services: [web] })));
  t.same(h.calls, ["restart containerd"]);
  h.calls.length = 0;
  await h.runtime.applyConfiguration(req(worker({ registries: mirror("https://mirror.local:5000"), hostname: "n1", services: [web] })));
  t.same(h.calls, [], "an unchanged machine.registries restarts nothing");
});

t.test("answers NOT_FOUND for an unknown service and passes known ones to the supervisor", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({ services: [web] })));
  h.calls.length = 0;
  for (const action of ["serviceStart", "serviceStop", "serviceRestart"] as const) {
    await t.rejects(h.runtime[action]("nope"), { kind: "not-found", message: 'service "nope" not found' }, action);
  }
  t.same(h.calls, []);
  t.equal(await h.runtime.serviceStop("web"), "service web: stop requested");
  t.equal(await h.runtime.serviceStart("web"), "service web: start requested");
  t.equal(await h.runtime.serviceRestart("kubelet"), "service kubelet: restart requested");
  t.same(h.calls, ["stop web", "start web", "restart kubelet"]);
});

t.test("answers NOT_FOUND in maintenance mode, where no service is registered", async (t) => {
  const h = harness(t);
  await h.boot();
  await t.rejects(h.runtime.serviceStart("containerd"), { kind: "not-found", message: 'service "containerd" not found' });
});

t.test("reboots through the reboot sequence after a change that needs one", async (t) => {
  const h = harness(t);
  await h.boot();
  await h.runtime.applyConfiguration(req(worker({})));
  h.calls.length = 0;
  const cp = worker({}, { cluster: { controlPlane: { endpoint: "https://10.0.0.1:6443" } } }).replace("type: worker", "type: controlplane");
  const result = await h.runtime.applyConfiguration(req(cp));
  t.equal(result.mode, "reboot");
  t.same(h.powered, [], "the reply comes first");
  await waitFor("reboot", () => h.powered.length > 0, 2000);
  t.same(h.powered, [["reboot", false]]);
  t.same(h.calls, [], "services are left to the power-down");
  const stored = h.store.load();
  t.equal(stored.t === "ok" && stored.config.machine.type, "controlplane");
  t.equal(h.ctx.config?.machine.type, "worker", "the running config stays until the reboot");
});

t.test("runs reboot and shutdown requests as sequences after replying", async (t) => {
  const h = harness(t);
  await h.runtime.reboot("default", true);
  await waitFor("reboot", () => h.powered.length === 1, 2000);
  await h.runtime.shutdown(false);
  await waitFor("poweroff", () => h.powered.length === 2, 2000);
  t.same(h.powered, [
    ["reboot", true],
    ["poweroff", false],
  ]);
  t.same(
    (await payloads(h.events, "sequence")).filter((p) => p.task === "" && p.phase === "").map((p) => [p.sequence, p.action]),
    [
      ["reboot", "start"],
      ["reboot", "stop"],
      ["shutdown", "start"],
      ["shutdown", "stop"],
    ],
  );
});
