// The runtime's reset: validation before anything happens, the event, the
// STATE directory emptied without a disk, and the wipe handed to the
// power-down to run once everything is unmounted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createConfigStore } from "../../../src/machined/config-store.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { Partition } from "../../../src/machined/disks.js";
import type { PowerAction } from "../../../src/machined/power.js";
import { createRuntime } from "../../../src/machined/runtime.js";
import { createRunner, phase, task } from "../../../src/machined/sequences/runner.js";
import type { Supervisor } from "../../../src/machined/supervisor/supervisor.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { worker } from "../../config/fixtures.js";
import { type Teardown, tempDir, testContext, waitFor } from "../helpers.js";
import { identityOf } from "../../../src/machined/machine-id.js";

/** A supervisor with nothing to supervise. */
const idle: Supervisor = {
  register: () => {},
  unregister: async () => {},
  startAll: async () => {},
  start: async (id) => `service ${id}: started`,
  stop: async (id) => `service ${id}: stopped`,
  restart: async (id) => `service ${id}: restarted`,
  stopAll: async () => {},
  status: () => [],
  logs: () => ({ async *[Symbol.asyncIterator]() {} }),
};

/** A booted runtime over a temp dir, with a stored config; powerDown records its arguments and hook. */
async function harness(t: Teardown, o: { partitions?: (dir: string) => Partition[]; hold?: Promise<void> } = {}) {
  const dir = tempDir(t);
  const root = join(dir, "root");
  mkdirSync(join(root, "etc"), { recursive: true });
  const sys = createFakeSys();
  const ctx = { ...testContext(dir), sys };
  const events = createEventBus({ capacity: 1000 });
  const store = createConfigStore(ctx.paths.state);
  store.save(worker({ hostname: "node-1" }));
  const powered: { action: PowerAction; force: boolean; hooks?: { beforeReboot?: () => Promise<void> | void } }[] = [];
  const logged: string[] = [];
  const runner = createRunner({
    events,
    log: () => {},
    halt: async (r) => {
      powered.push({ action: r.action, force: r.force, ...(r.beforeReboot ? { hooks: { beforeReboot: r.beforeReboot } } : {}) });
      await o.hold;
    },
  });
  const runtime = createRuntime({
    ctx,
    applyEnv: { sys, platform: "sandbox", root },
    events,
    supervisor: idle,
    runner,
    store,
    identity: identityOf("abcdef0123456789abcdef0123456789"),
    log: (line) => void logged.push(line),
    partitions: o.partitions?.(dir) ?? [],
  });
  await runner.run("boot", [phase("config", task("loadConfig", async () => void (await runtime.loadConfig())))]);
  sys.calls.length = 0; // boot's own calls (sethostname)
  return { runtime, dir, ctx, sys, events, store, powered, logged };
}

/** The machine events published so far. */
async function machineEvents(h: Awaited<ReturnType<typeof harness>>) {
  const out: string[] = [];
  for await (const e of h.events.watch({ tail: -1, sinceId: 0, follow: false })) if (e.payload.t === "machine") out.push(`${e.payload.stage}: ${e.payload.message}`);
  return out;
}

t.test("an unknown wipe target is refused before anything happens", async (t) => {
  const h = await harness(t);
  await t.rejects(h.runtime.reset({ graceful: false, reboot: true, wipe: ["state", "boot"] }), {
    kind: "invalid",
    message: 'expected wipe targets among state, ephemeral, got unknown "boot"',
  });
  await new Promise((r) => setTimeout(r, 200));
  t.same(h.powered, []);
  t.ok(existsSync(h.store.path), "config kept");
  t.equal(h.runtime.version().maintenance, false);
});

t.test("without a disk: STATE's directory is emptied, the config forgotten, then a forced power-off", async (t) => {
  const h = await harness(t);
  writeFileSync(join(h.ctx.paths.state, "machine-id"), "x");
  await h.runtime.reset({ graceful: false, reboot: false, wipe: [] });
  await waitFor("the power-down", () => h.powered.length > 0);
  t.same(h.powered.map((p) => [p.action, p.force]), [["poweroff", true]]);
  t.equal(h.store.load().t, "none");
  t.notOk(existsSync(join(h.ctx.paths.state, "machine-id")));
  t.ok(existsSync(h.ctx.paths.state), "the directory itself stays");
  t.equal(h.runtime.version().maintenance, true);
  t.equal(h.runtime.configuration(), undefined);
  t.same((await machineEvents(h)).at(-1), "shutting-down: resetting: wiping state, ephemeral");
  h.powered[0]?.hooks?.beforeReboot?.();
  t.same(h.sys.calls, [], "no partitions, nothing to wipe after the unmount");
});

t.test("with a disk: the partitions are wiped by the power-down's hook, after the unmount", async (t) => {
  // Image files stand in for the partitions: the hook really wipes them.
  const partitions = (dir: string) => [
    { name: "vda5", device: join(dir, "state.img"), label: "STATE" },
    { name: "vda6", device: join(dir, "ephemeral.img"), label: "EPHEMERAL" },
  ];
  const h = await harness(t, { partitions });
  const ephemeral = join(h.dir, "ephemeral.img");
  writeFileSync(ephemeral, Buffer.alloc(8 << 20, 0xff));
  await h.runtime.reset({ graceful: true, reboot: true, wipe: ["ephemeral"] });
  await waitFor("the power-down", () => h.powered.length > 0);
  t.same(h.powered.map((p) => [p.action, p.force]), [["reboot", false]]);
  t.ok(existsSync(h.store.path), "STATE not asked for: kept");
  t.same((await machineEvents(h)).at(-1), "rebooting: resetting: wiping ephemeral");
  t.same(h.sys.calls, [], "nothing wiped before the unmount");
  await h.powered[0]?.hooks?.beforeReboot?.();
  t.same(h.sys.calls.map((c) => c.name), ["mount", "sync", "umount2"]);
  t.equal(h.logged.at(-1), `reset: ${ephemeral} (EPHEMERAL) blanked; the next boot formats it`);
  const bytes = readFileSync(ephemeral);
  t.same([bytes.subarray(0, 4 << 20).some((b) => b !== 0), bytes[4 << 20]], [false, 0xff], "the first 4 MiB zeroed, the rest left");
  t.notOk(existsSync(join(h.dir, "state.img")), "STATE not touched");
});

t.test("a reset while a shutdown runs is refused, naming it, and changes nothing", async (t) => {
  let release = () => {};
  const h = await harness(t, { hold: new Promise<void>((r) => (release = r)) });
  t.teardown(() => release());
  await h.runtime.shutdown(false);
  await waitFor("the shutdown", () => h.powered.length > 0);
  await t.rejects(h.runtime.reset({ graceful: false, reboot: true, wipe: [] }), {
    kind: "busy",
    message: /^shutdown \(requested through the API\) is running since \d\d:\d\d:\d\d; try again when it ends$/,
  });
  t.ok(existsSync(h.store.path), "config kept");
});
