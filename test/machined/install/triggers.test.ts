// When a machine installs itself, over a fake installer: a config found at
// boot installs in the background and reboots by kexec once boot is over, or
// is refused and not applied (maintenance mode, saying why); a config
// applied in maintenance mode is refused whole with INVALID_ARGUMENT, or
// answered at once while the install goes on; a failed install says so.
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { Code } from "../../../src/grpc/errors.js";
import { createApplier } from "../../../src/machined/apply-config.js";
import { bootConfig } from "../../../src/machined/config-sources/boot-config.js";
import { found } from "../../../src/machined/config-sources/source.js";
import type { EventPayload } from "../../../src/machined/events.js";
import type { Installer, InstallPlan } from "../../../src/machined/install/install.js";
import { InstallError } from "../../../src/machined/install/source.js";
import { createInstallTriggers } from "../../../src/machined/install/triggers.js";
import type { KexecPrepared } from "../../../src/machined/kexec.js";
import type { ApplyRequest } from "../../../src/machined/machine.js";
import { waitFor } from "../helpers.js";

const disk = { name: "vda", device: "/dev/vda", sizeBytes: 2 << 30 };
const REFUSED = "machine.install.disk: /dev/vda holds an ext4 file system that kiln did not make; set machine.install.wipe: true to erase the whole disk, or name another disk (disks here: vda (2.0 GiB))";
const yaml = (install: string) => `apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n${install}`;
const INSTALL = yaml("  install:\n    disk: /dev/vda\n");

/** A fake installer: refuses, or plans an install whose run waits for `finish`. */
function harness(opts: { refuse?: boolean; fail?: string } = {}) {
  const events: EventPayload[] = [];
  const reboots: (KexecPrepared | undefined)[] = [];
  const ran: string[] = [];
  let busy: string | undefined = "boot";
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
      return { ok: true, slot: "A" };
    },
  };
  const configEvent = (accepted: boolean, message: string, errors: string[], warnings: string[], source = "api") =>
    void events.push({ t: "config", source, accepted, errors, warnings, message });
  const triggers = createInstallTriggers({
    installer,
    events: {
      publish: (p) => {
        events.push(p);
        return { id: events.length, time: new Date(), payload: p };
      },
    },
    log: () => {},
    configEvent,
    busy: () => busy,
    reboot: (k) => void reboots.push(k),
  });
  const endBoot = () => {
    busy = undefined;
  };
  return { events, reboots, ran, finish, endBoot, triggers, configEvent };
}

/** bootConfig with one source holding `text` and the triggers' atBoot. */
async function boot(h: ReturnType<typeof harness>, text: string) {
  const applied: string[] = [];
  const saved: string[] = [];
  let maintenance = 0;
  await bootConfig({
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
  return { applied, saved, maintenance: () => maintenance };
}

t.test("at boot: the install runs in the background and reboots by kexec once boot is over", async (t) => {
  const h = harness();
  const b = await boot(h, INSTALL);
  t.same(b.applied, [], "the config is not applied");
  t.same(b.saved, [], "nor saved on this boot's STATE");
  t.equal(b.maintenance(), 1, "the machine has a name and /etc meanwhile");
  t.match(h.events.at(-1), { t: "machine", stage: "booting", message: "the config from fw_cfg asks to install kiln to /dev/vda, then reboot into it" });
  t.same(h.ran, [INSTALL]);
  h.finish();
  await new Promise((r) => setTimeout(r, 250));
  t.same(h.reboots, [], "no reboot while the boot sequence runs");
  h.endBoot();
  await waitFor("the reboot", () => h.reboots.length === 1);
  t.same(h.reboots, [{ ok: true, slot: "A" }]);
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
  await boot(h, INSTALL);
  h.finish();
  h.endBoot();
  await waitFor("the failure", () => h.events.some((e) => e.t === "machine" && e.stage === "maintenance"));
  t.match(h.events.at(-1), { t: "machine", stage: "maintenance", message: "install to /dev/vda failed: mkfs.ext4 on /dev/vda5 (STATE) failed: no space; waiting for ApplyConfiguration" });
  t.same(h.reboots, []);
});

/** An applier in maintenance mode (no config yet) with the triggers' onApply. */
function applier(h: ReturnType<typeof harness>) {
  const saved: string[] = [];
  const apply = createApplier({
    current: () => undefined,
    save: (y) => void saved.push(y),
    applyLive: async () => [],
    reboot: () => {},
    configEvent: h.configEvent,
    install: (next, req) => h.triggers.onApply(next.config, next.yaml, req),
  });
  const req = (y: string, extra: Partial<ApplyRequest> = {}): ApplyRequest => ({ yaml: y, mode: "auto", dryRun: false, tryTimeoutMs: 0, ...extra });
  return { apply, req, saved };
}

t.test("apply in maintenance mode: a refused install rejects the whole config, nothing saved", async (t) => {
  const h = harness({ refuse: true });
  const a = applier(h);
  await t.rejects(a.apply(a.req(INSTALL)), { code: Code.INVALID_ARGUMENT, message: REFUSED });
  t.same(a.saved, []);
  t.match(h.events.at(-1), { t: "config", accepted: false, errors: [REFUSED] });
});

t.test("apply in maintenance mode: the reply comes at once, the install runs, then the reboot", async (t) => {
  const h = harness();
  h.endBoot();
  const a = applier(h);
  t.match(await a.apply(a.req(INSTALL, { dryRun: true })), { details: "dry run: would install kiln to /dev/vda, then reboot into it; nothing was changed" });
  t.same(h.ran, [], "a dry run installs nothing");
  await t.rejects(a.apply(a.req(INSTALL, { mode: "staged" })), { code: Code.FAILED_PRECONDITION, message: /--mode staged does not allow: apply with --mode auto or --mode reboot$/ });
  const r = await a.apply(a.req(INSTALL));
  t.match(r, { mode: "reboot", details: "install kiln to /dev/vda, then reboot into it" });
  t.same(a.saved, [], "not saved on the tmpfs STATE: the installer writes it to the disk's");
  await t.rejects(a.apply(a.req(INSTALL)), { code: Code.FAILED_PRECONDITION, message: "kiln is being installed to /dev/vda; the machine reboots into it when done" });
  h.finish();
  await waitFor("the reboot", () => h.reboots.length === 1);
  t.same(h.ran, [INSTALL]);
});

t.test("apply in maintenance mode without machine.install.disk applies as always", async (t) => {
  const h = harness();
  const a = applier(h);
  const plain = yaml("");
  t.match(await a.apply(a.req(plain)), { mode: "no-reboot" });
  t.same(a.saved, [plain]);
});
