// The boot's search for a config over the whole table (STATE, kernel
// command line URL, config drive, fw_cfg) on a fake machine: the order, the
// first find wins, an invalid config stops in maintenance mode, a find is
// kept on STATE, and every attempt is on the console and in the events, in
// the table's order though the sources look at once.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { acquireConfig } from "../../../src/machined/config-sources/acquire.js";
import { bootConfig } from "../../../src/machined/config-sources/boot-config.js";
import type { ConfigSource } from "../../../src/machined/config-sources/source.js";
import { configSources } from "../../../src/machined/config-sources/sources.js";
import { createConfigStore } from "../../../src/machined/config-store.js";
import type { EventPayload } from "../../../src/machined/events.js";
import { worker } from "../../config/fixtures.js";
import { fakeMachine, fat16Header } from "./helpers.js";

/** A fake machine, its store, and a boot over the default table with a fake fetch. */
function harness(t: Test, fetch: typeof globalThis.fetch = async () => new Response("", { status: 500 })) {
  const m = fakeMachine(t);
  const store = createConfigStore(join(m.dir, "state"));
  const clock = { now: () => 0, sleep: async () => {} };
  const sources = configSources({ platform: "metal", sys: m.fakeSys, store, roots: m, url: { fetch, clock, budgetMs: 0 } });
  return { m, store, ...booter(sources, store) };
}

/** bootConfig over `sources`, recording what it logs, publishes and applies. */
function booter(sources: ConfigSource[], store: { save(yaml: string): void }) {
  const logged: string[] = [];
  const events: EventPayload[] = [];
  const applied: string[] = [];
  let maintenance = 0;
  const boot = () =>
    bootConfig({
      sources,
      store,
      events: {
        publish: (p) => {
          events.push(p);
          return { id: events.length, time: new Date(), payload: p };
        },
      },
      log: (l) => void logged.push(l),
      configEvent: (accepted, message, errors, warnings, source) => void events.push({ t: "config", source, accepted, errors, warnings, message }),
      applyLive: async (next) => {
        applied.push(next.yaml);
        return [];
      },
      enterMaintenance: () => void maintenance++,
    });
  return { boot, logged, events, applied, maintenance: () => maintenance };
}

/** [source, accepted, message] of each config event; the machine event last. */
function summary(events: EventPayload[]) {
  return events.map((e) => (e.t === "config" ? [e.source, e.accepted, e.message] : e.t === "machine" ? [e.stage, e.message] : [e.t]));
}

t.test("tries every source in order and enters maintenance mode when none has a config", async (t) => {
  const h = harness(t);
  await h.boot();
  t.same(summary(h.events), [
    ["state", false, `no config on STATE (${h.store.path})`],
    ["cmdline-url", false, "no kiln.config= on the kernel command line"],
    ["config-drive", false, "no block device labelled kiln-config or cidata"],
    ["fw_cfg", false, `no fw_cfg (${h.m.sys}/firmware/qemu_fw_cfg is absent)`],
    ["maintenance", "no config yet: waiting for ApplyConfiguration"],
  ]);
  t.same(h.logged, [
    `config: state: no config on STATE (${h.store.path})`,
    "config: cmdline-url: no kiln.config= on the kernel command line",
    "config: config-drive: no block device labelled kiln-config or cidata",
    `config: fw_cfg: no fw_cfg (${h.m.sys}/firmware/qemu_fw_cfg is absent)`,
  ]);
  t.equal(h.maintenance(), 1);
  t.same(h.applied, []);
});

t.test("fw_cfg, the last source: applied, saved on STATE, found on STATE at the next boot", async (t) => {
  const h = harness(t);
  const yaml = worker({ hostname: "fw" });
  h.m.fwCfg(yaml);
  await h.boot();
  t.same(h.applied, [yaml]);
  t.equal(readFileSync(h.store.path, "utf8"), yaml, "saved on STATE as ApplyConfiguration saves");
  t.same(summary(h.events).slice(-2), [
    ["fw_cfg", true, "loaded fw_cfg opt/kiln/config"],
    ["running", "configured from fw_cfg (fw_cfg opt/kiln/config)"],
  ]);
  const next = booter(configSources({ platform: "metal", sys: h.m.fakeSys, store: h.store, roots: h.m }), h.store);
  await next.boot();
  t.same(summary(next.events), [
    ["state", true, `loaded ${h.store.path}`],
    ["running", "configured from STATE"],
  ]);
});

t.test("the first source with a config wins: the URL over a config drive over fw_cfg", async (t) => {
  const fromUrl = worker({ hostname: "url" });
  const h = harness(t, async () => new Response(fromUrl));
  h.m.cmdline("console=ttyS0 kiln.config=http://10.0.2.2/w.yaml");
  h.m.disk("vdb", fat16Header("KILN-CONFIG"), { "config.yaml": worker({ hostname: "drive" }) });
  h.m.fwCfg(worker({ hostname: "fw" }));
  await h.boot();
  t.same(h.applied, [fromUrl]);
  t.same(summary(h.events).map((e) => e[0]), ["state", "cmdline-url", "running"]);
  t.equal(readFileSync(h.store.path, "utf8"), fromUrl);
});

t.test("a config drive wins over fw_cfg when the command line has none", async (t) => {
  const h = harness(t);
  h.m.cmdline("kiln.config=none");
  h.m.disk("vdb", fat16Header("KILN-CONFIG"), { "config.yaml": worker({ hostname: "drive" }) });
  h.m.fwCfg(worker({ hostname: "fw" }));
  await h.boot();
  t.same(h.applied, [worker({ hostname: "drive" })]);
  t.same(summary(h.events).slice(1), [
    ["cmdline-url", false, "kiln.config=none on the kernel command line"],
    ["config-drive", false, `vfat "KILN-CONFIG" on ${h.m.dev}/vdb`],
    ["config-drive", true, `loaded config.yaml on ${h.m.dev}/vdb (KILN-CONFIG)`],
    ["running", `configured from config-drive (config.yaml on ${h.m.dev}/vdb (KILN-CONFIG))`],
  ]);
});

t.test("an invalid config stops the search in maintenance mode, with every message on the console and in the event", async (t) => {
  const h = harness(t);
  h.m.disk("vdb", fat16Header("CIDATA"), { "user-data": worker({ hostname: "Bad_Name", bogus: 1 }) });
  h.m.fwCfg(worker({ hostname: "fw" }));
  await h.boot();
  const rejected = h.events.find((e) => e.t === "config" && e.errors.length > 0);
  t.match(rejected, { t: "config", source: "config-drive", accepted: false, message: `user-data on ${h.m.dev}/vdb (CIDATA) is invalid; staying in maintenance mode` });
  const errors = rejected?.t === "config" ? rejected.errors : [];
  t.ok(errors.length >= 2, "both problems reported");
  t.match(errors.join("\n"), /machine\.hostname/);
  t.match(errors.join("\n"), /bogus/);
  t.ok(
    h.logged.some((l) => errors.every((e) => l.includes(`\n  ${e}`))),
    "every message on the console",
  );
  t.notOk(h.events.some((e) => e.t === "config" && e.source === "fw_cfg"), "fw_cfg not tried");
  t.same(summary(h.events).at(-1), ["maintenance", "the config from config-drive is invalid: waiting for ApplyConfiguration"]);
  t.same(h.applied, []);
  t.equal(h.maintenance(), 1);
  t.throws(() => readFileSync(h.store.path), "nothing saved");
});

t.test("a source that throws is reported and the search goes on", async (t) => {
  const broken: ConfigSource = { name: "broken", fetch: () => Promise.reject(new Error("reading x", { cause: new Error("EIO") })) };
  const ok: ConfigSource = { name: "ok", fetch: async () => ({ t: "found", yaml: worker({}), origin: "here" }) };
  const h = booter([broken, ok], { save: () => {} });
  await h.boot();
  t.same(summary(h.events), [
    ["broken", false, "failed: reading x: EIO"],
    ["ok", true, "loaded here"],
    ["running", "configured from ok (here)"],
  ]);
});

t.test("a config that cannot be saved still applies, with a warning", async (t) => {
  const ok: ConfigSource = { name: "fw_cfg", fetch: async () => ({ t: "found", yaml: worker({}), origin: "fw" }) };
  const h = booter([ok], {
    save: () => {
      throw new Error("EROFS");
    },
  });
  await h.boot();
  t.same(h.applied, [worker({})]);
  t.match(h.events[0], { t: "config", accepted: true, warnings: ["not saved on STATE, the next boot will look again: EROFS"] });
});

t.test("a sandbox looks on STATE only: the host's command line, disks and firmware are not the machine's", async (t) => {
  const h = harness(t);
  const sources = configSources({ platform: "sandbox", sys: h.m.fakeSys, store: h.store, roots: h.m });
  t.same(
    sources.map((s) => s.name),
    ["state"],
  );
  t.same(
    configSources({ platform: "metal", sys: h.m.fakeSys, store: h.store }).map((s) => s.name),
    ["state", "cmdline-url", "config-drive", "fw_cfg"],
  );
});

t.test("the sources look at once, but speak and decide in order; the first find stops the later ones", async (t) => {
  const started: string[] = [];
  const stopped: string[] = [];
  let release!: () => void;
  const slowFirst = new Promise<void>((r) => (release = r));
  const first: ConfigSource = {
    name: "first",
    fetch: async (note) => {
      started.push("first");
      note("looking slowly");
      await slowFirst;
      return { t: "none", why: "nothing here" };
    },
  };
  const second: ConfigSource = {
    name: "second",
    fetch: async (note) => {
      started.push("second");
      note("found something early");
      return { t: "found", yaml: worker({}), origin: "the second place" };
    },
  };
  const third: ConfigSource = {
    name: "third",
    fetch: (note, signal) => {
      started.push("third");
      return new Promise((_, reject) => {
        signal?.addEventListener("abort", () => {
          stopped.push("third");
          note("this must not be said: the search was decided");
          reject(new Error("stopped"));
        });
      });
    },
  };
  const h = booter([first, second, third], { save: () => {} });
  const booted = h.boot();
  await new Promise((r) => setTimeout(r, 20));
  t.same(started, ["first", "second", "third"], "every source started before the first one answered");
  t.same(h.logged, ["config: first: looking slowly"], "the second source's note waits for the first to finish");
  release();
  await booted;
  t.same(stopped, ["third"], "the source after the winner was stopped");
  t.same(h.logged, ["config: first: looking slowly", "config: first: nothing here", "config: second: found something early", "config: second: found the second place"]);
  t.same(summary(h.events), [
    ["first", false, "looking slowly"],
    ["first", false, "nothing here"],
    ["second", false, "found something early"],
    ["second", true, "loaded the second place"],
    ["running", "configured from second (the second place)"],
  ]);
});

t.test("a preempted boot stops waiting for a source at once", async (t) => {
  const hangs: ConfigSource = { name: "hangs", fetch: () => new Promise(() => {}) };
  const ac = new AbortController();
  const got = acquireConfig([hangs], { log: () => {}, configEvent: () => {} }, ac.signal);
  ac.abort(new Error("reboot"));
  await t.rejects(got, /reboot/);
});
