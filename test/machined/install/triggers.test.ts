// When a machine installs itself, over a fake installer: a config found at
// boot is not applied; boot's last phase installs and hands the reboot into
// the disk (by kexec) to the runner, or the install is refused and the
// config not applied (maintenance mode, saying why); a config applied in
// maintenance mode is refused whole (invalid), or answered at once while the
// install sequence goes on under the runner's lock; a failed install says so.
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { createApplier } from "../../../src/machined/apply-config.js";
import { bootConfig, type BootNext } from "../../../src/machined/config-sources/boot-config.js";
import { found } from "../../../src/machined/config-sources/source.js";
import type { EventPayload } from "../../../src/machined/events.js";
import type { Installer, InstallPlan } from "../../../src/machined/install/install.js";
import { InstallError } from "../../../src/machined/install/source.js";
import { createInstallTriggers } from "../../../src/machined/install/triggers.js";
import type { KexecPrepared } from "../../../src/machined/kexec.js";
import type { ApplyRequest } from "../../../src/machined/machine.js";
import { bootSequence } from "../../../src/machined/sequences/boot.js";
import type { RebootRequest } from "../../../src/machined/sequences/reboot-request.js";
import { createRunner } from "../../../src/machined/sequences/runner.js";
import { waitFor } from "../helpers.js";

const disk = { name: "vda", device: "/dev/vda", sizeBytes: 2 << 30 };
const REFUSED = "machine.install.disk: /dev/vda holds an ext4 file system that kiln did not make; set machine.install.wipe: true to erase the whole disk, or name another disk (disks here: vda (2.0 GiB))";
const yaml = (install: string) => `apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n${install}`;
const INSTALL = yaml("  install:\n    disk: /dev/vda\n");

/** A fake installer (refuses, or plans an install whose run waits for `finish`), and a real runner whose halt records the reboot requests. */
function harness(opts: { refuse?: boolean; fail?: string; kexec?: KexecPrepared } = {}) {
  const events: EventPayload[] = [];
  const reboots: RebootRequest[] = [];
  const ran: string[] = [];
  let finish = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const installer: Installer = {
    plan: async (config: MachineConfig): Promise<InstallPlan> => {
      if (!config.machine.install?.disk) return { t: "none" };
      if (opts.refuse) throw new InstallError(REFUSED);
      return { t: "install", disk, content: { t: "blank" }, source: { t: "media", device: "/dev/vdb" } };
    },
    run: async (_plan, y) => {
      ran.push(y);
      await finished;
      if (opts.fail) throw new Error(opts.fail);
      return opts.kexec ?? { ok: true, slot: "A" };
    },
  };
  const configEvent = (accepted: boolean, message: string, errors: string[], warnings: string[], source = "api") =>
    void events.push({ t: "config", source, accepted, errors, warnings, message });
  const publish = (p: EventPayload) => {
    events.push(p);
    return { id: events.length, time: new Date(), payload: p };
  };
  const triggers = createInstallTriggers({ installer, events: { publish }, log: () => {}, configEvent });
  const runner = createRunner({ events: { publish: (p) => ({ id: 0, time: new Date(), payload: p }) }, halt: async (r) => void reboots.push(r), log: () => {} });
  return { events, reboots, ran, finish, triggers, configEvent, runner };
}

/** bootConfig with one source holding `text` and the triggers' atBoot; `next` is what boot's last phase runs. */
async function boot(h: ReturnType<typeof harness>, text: string) {
  const applied: string[] = [];
  const saved: string[] = [];
  let maintenance = 0;
  const next: BootNext = await bootConfig({
    sources: [{ name: "fw_cfg", fetch: async () => found(text, "opt/kiln/config") }],
    store: { save: (y) => void saved.push(y) },
    events: {
      publish: (p) => {
        h.events.push(p);
        return { id: 0, time: new Date(), payload: p };
      },
    },
    log: () => {},
    configEvent: h.configEvent,
    applyLive: async (next) => {
      applied.push(next.yaml);
      return [];
    },
    enterMaintenance: () => void maintenance++,
    install: h.triggers.atBoot,
  });
  return { applied, saved, maintenance: () => maintenance, next };
}

/** The boot sequence on the harness's runner, its config phase being `boot(h, text)`; the other steps do nothing. */
function bootOnRunner(h: ReturnType<typeof harness>, text: string) {
  let b: Awaited<ReturnType<typeof boot>> | undefined;
  const noop = () => {};
  const { done } = h.runner.start(
    "boot",
    bootSequence({
      mountDisks: noop,
      loadIdentity: noop,
      startNetwork: noop,
      startMachineApi: async () => {},
      checkUpgrade: noop,
      loadConfig: async () => {
        b = await boot(h, text);
        return b.next;
      },
      loadRuntimeModules: async () => {},
      startApid: async () => {},
    }),
    { label: "boot" },
  );
  return { done, booted: () => b };
}

t.test("at boot: the config is not applied; boot's last phase installs, then the reboot by kexec", async (t) => {
  const h = harness();
  const seq = bootOnRunner(h, INSTALL);
  await waitFor("the install", () => h.ran.length === 1);
  const b = seq.booted()!;
  t.same(b.applied, [], "the config is not applied");
  t.same(b.saved, [], "nor saved on this boot's STATE");
  t.equal(b.maintenance(), 1, "the machine has a name and /etc meanwhile");
  t.match(h.events.at(-1), { t: "machine", stage: "booting", message: "the config from fw_cfg asks to install kiln to /dev/vda, then reboot into it" });
  t.same(h.ran, [INSTALL]);
  t.match(h.runner.current(), { name: "boot" }, "the install is the boot sequence's last phase, under its lock");
  await new Promise((r) => setTimeout(r, 50));
  t.same(h.reboots, [], "no reboot before the install is written");
  h.finish();
  await seq.done;
  await waitFor("the reboot", () => h.reboots.length === 1);
  t.match(h.reboots, [{ t: "reboot-request", action: "reboot", mode: "default", force: false, why: "installed to /dev/vda", kexec: { ok: true, slot: "A" } }]);
  t.match(h.runner.runs().at(-1), { name: "boot", result: "reboot" });
});

t.test("at boot: atBoot plans the install; its run resolves to the reboot into the disk", async (t) => {
  const h = harness({ kexec: { ok: false, why: "no kexec here" } });
  const b = await boot(h, INSTALL);
  t.type(b.next.install, "function", "boot's last phase has the install to run");
  t.same(h.ran, [], "nothing is written before boot's last phase runs it");
  h.finish();
  const r = await b.next.install!();
  t.same(h.ran, [INSTALL]);
  t.match(r, { t: "reboot-request", action: "reboot", mode: "powercycle", why: "installed to /dev/vda" }, "without kexec, through firmware");
  t.equal(r?.kexec, undefined);
});

t.test("at boot: a refused install leaves the config unapplied and the machine in maintenance mode, saying why", async (t) => {
  const h = harness({ refuse: true });
  const b = await boot(h, INSTALL);
  t.same(b.applied, []);
  t.equal(b.maintenance(), 1);
  t.match(h.events.slice(-2), [
    { t: "config", source: "fw_cfg", accepted: false, errors: [REFUSED], message: "not applied: the install it asks for cannot go ahead" },
    { t: "machine", stage: "maintenance", message: `${REFUSED}; waiting for ApplyConfiguration` },
  ]);
  t.same(h.ran, []);
});

t.test("at boot: a config without machine.install.disk is applied as always", async (t) => {
  const h = harness();
  const plain = yaml("");
  const b = await boot(h, plain);
  t.same(b.applied, [plain]);
  t.same(b.saved, [plain]);
});

t.test("at boot: a failed install says why and leaves the machine in maintenance mode", async (t) => {
  const h = harness({ fail: "mkfs.ext4 on /dev/vda5 (STATE) failed: no space" });
  const b = await boot(h, INSTALL);
  h.finish();
  t.equal(await b.next.install!(), undefined, "no reboot request: the machine stays in maintenance mode");
  t.match(h.events.at(-1), { t: "machine", stage: "maintenance", message: "install to /dev/vda failed: mkfs.ext4 on /dev/vda5 (STATE) failed: no space; waiting for ApplyConfiguration" });
  t.match(h.events.at(-2), { t: "config", source: "boot", accepted: false, errors: ["mkfs.ext4 on /dev/vda5 (STATE) failed: no space"], message: "the install failed; the config was not applied" });
  t.same(h.reboots, []);
});

t.test("at boot: a failed install ends the boot sequence without a reboot", async (t) => {
  const h = harness({ fail: "mkfs.ext4 on /dev/vda5 (STATE) failed: no space" });
  const seq = bootOnRunner(h, INSTALL);
  h.finish();
  await seq.done;
  await new Promise((r) => setTimeout(r, 20));
  t.match(h.events.at(-1), { t: "machine", stage: "maintenance", message: /^install to \/dev\/vda failed: / });
  t.same(h.reboots, [], "halt is never called");
  t.equal(h.runner.current(), undefined, "the lock is free for ApplyConfiguration");
  t.match(h.runner.runs().at(-1), { name: "boot", result: "ok" });
});

/** An applier in maintenance mode (no config yet) with the triggers' onApply. */
function applier(h: ReturnType<typeof harness>) {
  const saved: string[] = [];
  const apply = createApplier({
    current: () => undefined,
    save: (y) => void saved.push(y),
    applyLive: async () => [],
    configEvent: h.configEvent,
    runner: h.runner,
    install: (next, req) => h.triggers.onApply(next.config, next.yaml, req),
  });
  const req = (y: string, extra: Partial<ApplyRequest> = {}): ApplyRequest => ({ yaml: y, mode: "auto", dryRun: false, tryTimeoutMs: 0, ...extra });
  return { apply, req, saved };
}

t.test("apply in maintenance mode: a refused install rejects the whole config, nothing saved", async (t) => {
  const h = harness({ refuse: true });
  const a = applier(h);
  await t.rejects(a.apply(a.req(INSTALL)), { kind: "invalid", message: REFUSED });
  t.same(a.saved, []);
  t.match(h.events.at(-1), { t: "config", accepted: false, errors: [REFUSED] });
});

t.test("apply in maintenance mode: the reply comes at once, the install runs, then the reboot", async (t) => {
  const h = harness();
  const a = applier(h);
  t.match(await a.apply(a.req(INSTALL, { dryRun: true })), { details: "dry run: would install kiln to /dev/vda, then reboot into it; nothing was changed" });
  t.same(h.ran, [], "a dry run installs nothing");
  await t.rejects(a.apply(a.req(INSTALL, { mode: "staged" })), { kind: "refused", message: /--mode staged does not allow: apply with --mode auto or --mode reboot$/ });
  const r = await a.apply(a.req(INSTALL));
  t.match(r, { mode: "reboot", details: "install kiln to /dev/vda, then reboot into it" });
  t.same(a.saved, [], "not saved on the tmpfs STATE: the installer writes it to the disk's");
  t.match(h.runner.current(), { name: "install", label: "install to /dev/vda" }, "the install sequence holds the lock");
  await t.rejects(a.apply(a.req(INSTALL)), { kind: "busy", message: /^install to \/dev\/vda is running since \d\d:\d\d:\d\d; try again when it ends$/ });
  t.same(h.reboots, [], "no reboot before the install is written");
  h.finish();
  await waitFor("the reboot", () => h.reboots.length === 1);
  t.same(h.ran, [INSTALL]);
  t.match(h.reboots, [{ action: "reboot", mode: "default", why: "installed to /dev/vda", kexec: { ok: true, slot: "A" } }]);
});

t.test("apply in maintenance mode without machine.install.disk applies as always", async (t) => {
  const h = harness();
  const a = applier(h);
  const plain = yaml("");
  t.match(await a.apply(a.req(plain)), { mode: "no-reboot" });
  t.same(a.saved, [plain]);
});
