// ApplyConfiguration over fake deps: validation changes nothing, modes decide
// what is saved, applied and rebooted, one sequence at a time (the runner's
// lock), try reverts.
import t from "tap";
import { type ApplyDeps, type Current, createApplier } from "../../../src/machined/apply-config.js";
import { MachineError } from "../../../src/machined/errors.js";
import type { ApplyRequest } from "../../../src/machined/machine.js";
import type { RebootRequest } from "../../../src/machined/sequences/reboot-request.js";
import { createRunner } from "../../../src/machined/sequences/runner.js";
import { configOf, worker } from "../../config/fixtures.js";

interface ConfigEvent {
  accepted: boolean;
  message: string;
  errors: string[];
  warnings: string[];
}

/** Fake deps recording every call over a real runner whose halt records the reboot requests; applyLive makes `next` current, like machined. */
function fakeDeps(initial?: Current, opts: { liveWarnings?: string[]; hold?: Promise<void> } = {}) {
  const rec = {
    current: initial,
    saved: [] as string[],
    live: [] as { next: string; prev: string | undefined }[],
    reboots: [] as RebootRequest[],
    events: [] as ConfigEvent[],
    failLive: undefined as Error | undefined,
    hold: undefined as Promise<void> | undefined,
  };
  const deps: ApplyDeps = {
    current: () => rec.current,
    save: (yaml) => void rec.saved.push(yaml),
    applyLive: async (next, prev) => {
      rec.live.push({ next: next.yaml, prev: prev?.yaml });
      await (rec.hold ?? opts.hold);
      if (rec.failLive) throw rec.failLive;
      rec.current = next;
      return opts.liveWarnings ?? [];
    },
    configEvent: (accepted, message, errors, warnings) => void rec.events.push({ accepted, message, errors, warnings }),
    runner: createRunner({ events: { publish: (p) => ({ id: 0, time: new Date(), payload: p }) }, halt: async (r) => void rec.reboots.push(r), log: () => {} }),
    retryMs: 10,
  };
  return { deps, rec };
}

/** The runner hands a reboot request to halt once the call's reply could go out (after a setImmediate). */
const settled = () => new Promise((r) => setTimeout(r, 10));

/** A Current from YAML text. */
function current(yaml: string): Current {
  return { config: configOf(yaml), yaml };
}

/** A request with defaults: auto, not a dry run. */
function req(yaml: string, over: Partial<ApplyRequest> = {}): ApplyRequest {
  return { yaml, mode: "auto", dryRun: false, tryTimeoutMs: 0, ...over };
}

/** The MachineError a promise rejects with. */
async function machineErrorOf(p: Promise<unknown>): Promise<MachineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MachineError)) throw new Error(`expected a MachineError, got ${String(err)}`);
  return err;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodeA = worker({ hostname: "node-a" });
const nodeB = worker({ hostname: "node-b" });
const nodeC = worker({ hostname: "node-c" });
// node-a turned into a control plane: the endpoint needs a reboot; without the control plane's secrets it would run none of it (warnings).
/** What a control plane without the etcd CA, the cluster CA's key, the service-account key and the front-proxy CA is told. */
const typeWarnings = [
  "cluster.etcd.ca: not set (with its key); a controlplane machine runs etcd only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.serviceAccount.key: not set; a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.frontProxy.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
];
const nodeAControlPlane = worker({ hostname: "node-a" }, { cluster: { controlPlane: { endpoint: "https://10.0.0.1:6443" } } }).replace(
  "type: worker",
  "type: controlplane",
);

t.test("rejects an invalid config with every error and changes nothing", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  const err = await machineErrorOf(apply(req(worker({ hostname: "Bad_Name", sysctls: { "vm.swappiness": 10 } }))));
  const errors = [
    "machine.hostname: expected a lowercase RFC 1123 hostname such as node-1 or node-1.example.com (labels of 1-63 characters a-z, 0-9 and '-', 253 in all), got \"Bad_Name\"",
    'machine.sysctls["vm.swappiness"]: expected a string (quote numbers and booleans, as in "1"), got 10',
  ];
  t.equal(err.kind, "invalid");
  t.equal(err.message, `the config is invalid; nothing was changed:\n${errors.join("\n")}`);
  t.same(rec.saved, []);
  t.same(rec.live, []);
  await settled();
  t.same(rec.reboots, [], "no reboot asked for");
  t.same(rec.events, [{ accepted: false, message: "rejected: invalid config", errors, warnings: [] }]);
});

t.test("rejects YAML that does not parse as invalid", async (t) => {
  const { deps, rec } = fakeDeps();
  const err = await machineErrorOf(createApplier(deps)(req("machine: [oops")));
  t.equal(err.kind, "invalid");
  t.equal(
    err.message,
    "the config is invalid; nothing was changed:\nYAML syntax error at line 1, column 15: Flow sequence in block collection must be sufficiently indented and end with a ]",
  );
  t.same(rec.saved, []);
  t.same(rec.live, []);
});

t.test("applies the first config live in auto mode", async (t) => {
  const { deps, rec } = fakeDeps();
  const result = await createApplier(deps)(req(nodeA));
  t.same(result, {
    mode: "no-reboot",
    warnings: [],
    changes: ["machine.type", "machine.hostname"],
    needsReboot: [],
    details: "applied 2 changes live",
  });
  t.same(rec.saved, [nodeA]);
  t.same(rec.live, [{ next: nodeA, prev: undefined }]);
  await settled();
  t.same(rec.reboots, [], "no reboot asked for");
  t.same(rec.events, [{ accepted: true, message: "applied (no-reboot)", errors: [], warnings: [] }]);
});

t.test("resolves auto to no-reboot when every change applies live", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const result = await createApplier(deps)(req(nodeB));
  t.same(result, {
    mode: "no-reboot",
    warnings: [],
    changes: ["machine.hostname"],
    needsReboot: [],
    details: "applied 1 change live",
  });
  t.same(rec.saved, [nodeB]);
  t.same(rec.live, [{ next: nodeB, prev: nodeA }]);
  await settled();
  t.same(rec.reboots, [], "no reboot asked for");
});

t.test("resolves auto to reboot when a change needs one, saving without applying live", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const result = await createApplier(deps)(req(nodeAControlPlane));
  t.same(result, {
    mode: "reboot",
    warnings: typeWarnings,
    changes: ["machine.type", "cluster.controlPlane.endpoint"],
    needsReboot: ["machine.type", "cluster.controlPlane.endpoint"],
    details: "saved 2 changes; rebooting to apply them",
  });
  t.same(rec.saved, [nodeAControlPlane]);
  t.same(rec.live, []);
  await settled();
  t.match(rec.reboots, [{ t: "reboot-request", action: "reboot", mode: "default", force: false, why: "the applied config needs a reboot" }], "the sequence hands one reboot request to halt");
  t.equal(rec.reboots[0]?.kexec, undefined, "the reboot kexecs the running slot: halt decides");
  t.same(rec.events, [{ accepted: true, message: "applied (reboot)", errors: [], warnings: typeWarnings }]);
});

t.test("refuses no-reboot and try for changes that need a reboot, naming the paths", async (t) => {
  for (const mode of ["no-reboot", "try"] as const) {
    const { deps, rec } = fakeDeps(current(nodeA));
    const err = await machineErrorOf(createApplier(deps)(req(nodeAControlPlane, { mode, tryTimeoutMs: 20 })));
    t.equal(err.kind, "refused", mode);
    t.equal(
      err.message,
      "these changes need a reboot: machine.type, cluster.controlPlane.endpoint; apply with --mode reboot or --mode staged",
      mode,
    );
    t.same(rec.saved, [], `${mode}: nothing saved`);
    t.same(rec.live, [], `${mode}: nothing applied`);
    await settled();
  t.same(rec.reboots, [], "no reboot asked for");
  }
});

t.test("stages a config: saved, not applied live, no reboot", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const result = await createApplier(deps)(req(nodeAControlPlane, { mode: "staged" }));
  t.equal(result.mode, "staged");
  t.equal(result.details, "staged 2 changes: they take effect at the next boot");
  t.same(rec.saved, [nodeAControlPlane]);
  t.same(rec.live, []);
  await settled();
  t.same(rec.reboots, [], "no reboot asked for");
  t.equal(rec.current?.yaml, nodeA, "the running config stays");
});

t.test("reboots in reboot mode even for live changes", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const result = await createApplier(deps)(req(nodeB, { mode: "reboot" }));
  t.equal(result.details, "saved 1 change; rebooting to apply them");
  t.same(rec.saved, [nodeB]);
  t.same(rec.live, []);
  await settled();
  t.match(rec.reboots, [{ t: "reboot-request", action: "reboot", mode: "default", force: false, why: "the applied config needs a reboot" }]);
});

t.test("saves and applies nothing on a dry run, reporting the plan", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  const live = await apply(req(nodeB, { dryRun: true }));
  t.same(live, {
    mode: "no-reboot",
    warnings: [],
    changes: ["machine.hostname"],
    needsReboot: [],
    details: "dry run: applied 1 change live; nothing was changed",
  });
  const reboot = await apply(req(nodeAControlPlane, { dryRun: true }));
  t.equal(reboot.mode, "reboot");
  t.equal(reboot.details, "dry run: saved 2 changes; rebooting to apply them; nothing was changed");
  t.same(rec.saved, []);
  t.same(rec.live, []);
  await settled();
  t.same(rec.reboots, [], "no reboot asked for");
  t.same(rec.events, []);
});

t.test("returns the config's warnings with those of the live apply", async (t) => {
  const { deps, rec } = fakeDeps(undefined, { liveWarnings: ["sysctl vm.swappiness: skipped"] });
  const controlPlane = worker({}).replace("type: worker", "type: controlplane");
  const result = await createApplier(deps)(req(controlPlane));
  const warnings = [
    "cluster.controlPlane.endpoint: not set; a controlplane machine needs it so kubelets and clients reach the API server",
    ...typeWarnings,
    "sysctl vm.swappiness: skipped",
  ];
  t.same(result.warnings, warnings);
  t.same(rec.events, [{ accepted: true, message: "applied (no-reboot)", errors: [], warnings }]);
});

t.test("refuses a second apply while one is in flight, then takes the next", async (t) => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const { deps, rec } = fakeDeps(current(nodeA), { hold });
  const apply = createApplier(deps);
  const first = apply(req(nodeB));
  const err = await machineErrorOf(apply(req(nodeC)));
  t.equal(err.kind, "busy");
  t.match(err.message, /^apply-config \(no-reboot\) is running since \d\d:\d\d:\d\d; try again when it ends$/);
  t.same(rec.saved, [nodeB], "the refused apply saved nothing");
  release();
  await first;
  await apply(req(nodeC));
  t.same(rec.saved, [nodeB, nodeC]);
});

t.test("takes the next apply after one that failed", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  await machineErrorOf(apply(req("machine: {}")));
  rec.failLive = new Error("disk full");
  const failed = await apply(req(nodeB)).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.equal(failed?.message, "applyLive: disk full", "the runner names the task that failed");
  t.equal((failed?.cause as Error | undefined)?.message, "disk full");
  rec.failLive = undefined;
  await apply(req(nodeC));
  t.equal(rec.current?.yaml, nodeC);
});

t.test("reverts a try after its timeout", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA), { liveWarnings: [] });
  const result = await createApplier(deps)(req(nodeB, { mode: "try", tryTimeoutMs: 20 }));
  t.equal(result.mode, "try");
  t.equal(result.details, "applied 1 change live, not saved; they revert unless confirmed by another apply");
  t.equal(rec.current?.yaml, nodeB);
  t.same(rec.saved, [], "a try is not saved: a reboot during it boots the previous config");
  await sleep(80);
  t.same(rec.saved, [], "the revert has nothing to save: STATE still holds the previous config");
  t.same(rec.live, [
    { next: nodeB, prev: nodeA },
    { next: nodeA, prev: nodeB },
  ]);
  t.equal(rec.current?.yaml, nodeA);
  t.same(rec.events.at(-1), { accepted: true, message: "try timed out: reverted to the previous config", errors: [], warnings: [] });
});

t.test("keeps a try that another apply confirms before its timeout", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  await apply(req(nodeB, { mode: "try", tryTimeoutMs: 30 }));
  await apply(req(nodeB));
  await sleep(90);
  t.same(rec.saved, [nodeB], "the confirming apply saves it");
  t.equal(rec.current?.yaml, nodeB);
});

t.test("reports a revert that fails as a rejected config event", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  await createApplier(deps)(req(nodeB, { mode: "try", tryTimeoutMs: 20 }));
  rec.failLive = new Error("sethostname: EPERM");
  await sleep(80);
  t.same(rec.events.at(-1), {
    accepted: false,
    message: "try timed out; revert failed: sethostname: EPERM",
    errors: ["sethostname: EPERM"],
    warnings: [],
  });
});

t.test("refuses a try when there is no config to return to", async (t) => {
  const { deps, rec } = fakeDeps();
  const err = await machineErrorOf(createApplier(deps)(req(nodeA, { mode: "try", tryTimeoutMs: 20 })));
  t.equal(err.kind, "refused");
  t.equal(err.message, "--mode try needs a config to return to; apply the first config with another mode");
  t.same(rec.saved, []);
  t.same(rec.live, []);
});

t.test("keeps the pending try revert when a later apply changes nothing", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  await apply(req(nodeB, { mode: "try", tryTimeoutMs: 40 }));
  await machineErrorOf(apply(req("machine: {}")));
  await apply(req(nodeC, { dryRun: true }));
  await sleep(120);
  t.equal(rec.current?.yaml, nodeA, "reverted to node-a");
  t.same(rec.saved, [], "nothing was saved along the way");
});

t.test("drops a try's revert when an apply still running at its timeout confirms it", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  await apply(req(nodeB, { mode: "try", tryTimeoutMs: 30 }));
  let release!: () => void;
  rec.hold = new Promise<void>((r) => {
    release = r;
  });
  const confirming = apply(req(nodeC, { mode: "no-reboot" }));
  await sleep(80); // the try's time is up while that apply holds the lock
  release();
  await confirming;
  await sleep(150);
  t.equal(rec.current?.yaml, nodeC, "no stale revert to node-a");
  t.same(rec.saved, [nodeC]);
});

t.test("a try's revert waits for the lock another sequence holds, then reverts", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const apply = createApplier(deps);
  await apply(req(nodeB, { mode: "try", tryTimeoutMs: 20 }));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const other = deps.runner.start("upgrade", [{ name: "upgrade", tasks: [{ name: "writeInactiveSlot", run: () => held }] }], { label: "upgrade to 0.2.0" });
  await sleep(80); // the try's time is up while the upgrade holds the lock
  t.equal(rec.current?.yaml, nodeB, "no revert while another sequence runs");
  t.same(rec.live, [{ next: nodeB, prev: nodeA }]);
  release();
  await other.done;
  await waitUntil(() => rec.current?.yaml === nodeA);
  t.same(rec.live, [
    { next: nodeB, prev: nodeA },
    { next: nodeA, prev: nodeB },
  ]);
  t.same(rec.saved, []);
  t.same(rec.events.at(-1), { accepted: true, message: "try timed out: reverted to the previous config", errors: [], warnings: [] });
});

t.test("an apply is refused while another sequence holds the lock, changing nothing", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const other = deps.runner.start("install", [{ name: "install", tasks: [{ name: "installToDisk", run: () => held }] }], { label: "install to /dev/vda" });
  const err = await machineErrorOf(createApplier(deps)(req(nodeB, { mode: "reboot" })));
  t.equal(err.kind, "busy");
  t.match(err.message, /^install to \/dev\/vda is running since \d\d:\d\d:\d\d; try again when it ends$/);
  release();
  await other.done;
  await settled();
  t.same(rec.saved, []);
  t.same(rec.live, []);
  t.same(rec.events, []);
  t.same(rec.reboots, []);
});

/** Polls until `cond` holds (2 s at most). */
async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
}

t.test("the first config is final: once configured, an apply through maintenance mode is refused and changes nothing", async (t) => {
  const { deps, rec } = fakeDeps();
  const apply = createApplier(deps);
  await apply(req(nodeA, { maintenance: true }));
  t.same(rec.saved, [nodeA], "the first config, through maintenance mode, is applied");
  for (const over of [{ maintenance: true }, { maintenance: true, dryRun: true }]) {
    const err = await machineErrorOf(apply(req(nodeB, over)));
    t.equal(err.kind, "refused", "FAILED_PRECONDITION at the API");
    t.match(err.message, /the machine is configured.*mTLS/);
  }
  t.same(rec.saved, [nodeA], "nothing more saved");
  await apply(req(nodeB));
  t.same(rec.saved, [nodeA, nodeB], "an apply not through maintenance mode (mTLS, root's socket) goes on");
});

t.test("a maintenance apply waiting while the first one runs is refused once it has saved", async (t) => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const { deps, rec } = fakeDeps(undefined, { hold });
  const apply = createApplier(deps);
  const first = apply(req(nodeA, { maintenance: true }));
  t.equal((await machineErrorOf(apply(req(nodeB, { maintenance: true })))).kind, "busy", "during the first apply: busy");
  release();
  await first;
  t.equal((await machineErrorOf(apply(req(nodeB, { maintenance: true })))).kind, "refused", "after it: refused for good");
  t.same(rec.saved, [nodeA]);
});

t.test("a dry run that fails validation publishes no event", async (t) => {
  const { deps, rec } = fakeDeps(current(nodeA));
  const err = await machineErrorOf(createApplier(deps)(req(worker({ hostname: "Bad_Name" }), { dryRun: true })));
  t.equal(err.kind, "invalid");
  t.same(rec.events, [], "nothing on the event bus for a dry run");
});
