// The upgrader's A/B logic against fakes: the record, grubenv, kexec and
// the reboot requests (returned to the sequence, or asked for by a failed
// trial) for upgrade, stage, trial, rollback and refusals. The real
// path (mkfs, the ESP, GRUB, kexec) runs in test/vm/upgrade.test.ts.
import { readFileSync, } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { BundleError, type BundleInfo } from "../../../src/machinery/upgrade-bundle.js";
import { MachineError } from "../../../src/machined/errors.js";
import type { KexecPrepared, KexecTarget } from "../../../src/machined/kexec.js";
import type { UpgradeOptions, UpgradeStep } from "../../../src/machined/machine.js";
import type { RebootRequest } from "../../../src/machined/sequences/reboot-request.js";
import type { ServiceStatus } from "../../../src/machined/service.js";
import { readRecord, writeRecord } from "../../../src/machined/upgrade/record.js";
import { createUpgrader, type UpgraderDeps } from "../../../src/machined/upgrade/upgrade.js";
import type { Uploads } from "../../../src/machined/upgrade/uploads.js";
import { tempDir } from "../helpers.js";

const running = (id: string, healthy: boolean | null): ServiceStatus => ({
  id, state: "Running", message: "", healthy, healthMessage: "", healthChangedAt: undefined, pid: 1, restarts: 0, dependsOn: [], since: new Date(),
});

function bundle(version: string): BundleInfo {
  const f = { size: 10, sha256: "0".repeat(64) };
  return { version, kernel: "6.1.0", dir: "/x", files: { vmlinuz: f, initramfs: f, "manifest.json": f, cmdline: f } };
}

function setup(o: { slot?: "A" | "B"; bootMode?: string; version?: string; extract?: () => Promise<BundleInfo>; kexecOk?: boolean; services?: ServiceStatus[] } = {}) {
  const stateDir = tempDir(t, "kiln-upgrade-");
  const env: Record<string, string> = { kiln_slot: "A", kiln_try: "" };
  const calls: string[] = [];
  const events: string[] = [];
  const services = o.services ?? [running("apid", true), running("containerd", true)];
  const uploads: Uploads = {
    append: (c) => ({ uploadId: c.uploadId || "u1", received: c.offset + c.data.length }),
    path: () => "/var/lib/kiln/upgrade/u1.tar",
    fetch: async () => "/var/lib/kiln/upgrade/u2.tar",
    scratch: () => "/var/lib/kiln/upgrade/u1.d",
    clear: () => void calls.push("clear"),
  };
  const deps: UpgraderDeps = {
    log: () => {},
    events: {
      publish: (p) => {
        events.push((p as { message: string }).message);
        return { id: 1, time: new Date(), payload: p };
      },
    },
    stateDir,
    uploads,
    partitions: [
      { name: "vda3", device: "/dev/vda3", label: "BOOT-A" },
      { name: "vda4", device: "/dev/vda4", label: "BOOT-B" },
    ],
    slots: { slot: o.slot ?? "A", bootMode: o.bootMode ?? "committed", slots: [{ name: "A", version: "0.1.0", active: true }, { name: "B", version: "", active: false }] },
    runningVersion: o.version ?? "0.1.0",
    services: () => services,
    grubenv: { read: () => ({ ...env }), update: (v) => void Object.assign(env, v) },
    extract: o.extract ?? (async () => bundle("0.2.0")),
    writeSlot: async (device, label) => void calls.push(`write ${device} ${label}`),
    prepareKexec: async (target?: KexecTarget): Promise<KexecPrepared> => {
      calls.push(`kexec ${target ? `${target.slot} ${target.boot}` : "running"}`);
      return o.kexecOk === false ? { ok: false, why: "no kexec here" } : { ok: true, slot: target?.slot ?? "A" };
    },
    requestReboot: (why) => void calls.push(`requestReboot ${why}`),
    trialPollMs: 5,
  };
  return { deps, env, calls, events, stateDir };
}

const opts = (o: Partial<UpgradeOptions> = {}): UpgradeOptions => ({ source: { uploadId: "u1" }, force: false, stage: false, rebootMode: "default", healthTimeoutMs: 0, ...o });

/** Runs the generator to its end: its steps, and its return value (the reboot into the trial, none with --stage). */
async function drain(it: AsyncGenerator<UpgradeStep, RebootRequest | undefined>): Promise<UpgradeStep[] & { reboot?: RebootRequest }> {
  const out: UpgradeStep[] & { reboot?: RebootRequest } = [];
  for (;;) {
    const next = await it.next();
    if (next.done) {
      if (next.value) out.reboot = next.value;
      return out;
    }
    out.push(next.value);
  }
}

t.test("an upgrade writes the other slot, records it pending and kexecs into it on trial", async (t) => {
  const s = setup();
  const u = createUpgrader(s.deps);
  const steps = await drain(u.upgrade(opts(), new AbortController().signal));
  t.same(steps.map((x) => x.phase), ["verify", "verify", "write", "write", "bootloader", "reboot"]);
  t.same(s.calls, ["write /dev/vda4 BOOT-B", "clear", "kexec B trial"]);
  t.match(steps.reboot, { t: "reboot-request", action: "reboot", mode: "default", force: false, kexec: { ok: true, slot: "B" }, why: "upgrade to 0.2.0: trial of slot B" }, "the sequence's result: kexec into the trial");
  t.equal(s.env.kiln_try, "", "kiln_try is cleared once the trial kernel is staged: a panic comes back to A");
  t.equal(s.env.kiln_slot, "A");
  const r = readRecord(s.stateDir, () => {});
  t.equal(r?.state, "pending");
  t.same(r?.to, { slot: "B", version: "0.2.0" });
  t.same(r?.services.map((x) => x.id), ["apid", "containerd"]);
  t.equal(u.slots()?.slots.find((x) => x.name === "B")?.version, "0.2.0", "version shows the slot's new contents");
});

t.test("a powercycle upgrade leaves kiln_try for GRUB", async (t) => {
  const s = setup();
  const steps = await drain(createUpgrader(s.deps).upgrade(opts({ rebootMode: "powercycle" }), new AbortController().signal));
  t.equal(s.env.kiln_try, "B");
  t.notOk(s.calls.some((c) => c.startsWith("kexec")), "no kernel staged");
  t.match(steps.reboot, { action: "reboot", mode: "powercycle", force: false });
  t.equal(steps.reboot?.kexec, undefined);
});

t.test("when kexec is refused, GRUB boots the trial", async (t) => {
  const s = setup({ kexecOk: false });
  const steps = await drain(createUpgrader(s.deps).upgrade(opts(), new AbortController().signal));
  t.equal(s.env.kiln_try, "B");
  t.same(s.calls.slice(-1), ["kexec B trial"]);
  t.match(steps.reboot, { action: "reboot", mode: "powercycle", force: false });
  t.equal(steps.reboot?.kexec, undefined);
});

t.test("--stage writes and records, and the next default reboot kexecs the trial", async (t) => {
  const s = setup();
  const u = createUpgrader(s.deps);
  const steps = await drain(u.upgrade(opts({ stage: true }), new AbortController().signal));
  t.equal(steps.at(-1)?.phase, "staged");
  t.equal(steps.at(-1)?.status?.state, "staged");
  t.equal(steps.reboot, undefined, "no reboot");
  t.notOk(s.calls.some((c) => c.startsWith("kexec")), "nothing staged for kexec yet");
  t.equal(s.env.kiln_try, "B");
  t.same(await u.rebootKexec(), { ok: true, slot: "B" });
  t.equal(s.env.kiln_try, "", "cleared once staged for kexec");
  t.equal(readRecord(s.stateDir, () => {})?.state, "pending");
});

t.test("a bundle that fails verification is refused before anything is written", async (t) => {
  const s = setup({ extract: async () => Promise.reject(new BundleError("initramfs: sha256 is 1a, kiln-upgrade.json says 9f")) });
  await t.rejects(drain(createUpgrader(s.deps).upgrade(opts(), new AbortController().signal)), { kind: "invalid", message: /refused, nothing was written: initramfs: sha256/ });
  t.same(s.calls, []);
  t.same(s.env, { kiln_slot: "A", kiln_try: "" });
  t.equal(readRecord(s.stateDir, () => {}), undefined);
});

t.test("an older or equal version needs force", async (t) => {
  const s = setup({ extract: async () => bundle("0.1.0") });
  const u = createUpgrader(s.deps);
  await t.rejects(drain(u.upgrade(opts(), new AbortController().signal)), { kind: "refused", message: /not newer than the running 0.1.0.*--force/ });
  t.same(s.calls, []);
  await drain(u.upgrade(opts({ force: true }), new AbortController().signal));
  t.ok(s.calls.includes("write /dev/vda4 BOOT-B"));
});

t.test("no upgrade while a trial runs, nor without a disk", async (t) => {
  const s = setup({ slot: "B", bootMode: "trial" });
  writeRecord(s.stateDir, { state: "trial", from: { slot: "A", version: "0.1.0" }, to: { slot: "B", version: "0.2.0" }, reason: "", time: "", services: [], healthTimeoutMs: 1000 });
  const onTrial = createUpgrader(s.deps);
  t.throws(() => onTrial.precheck(), { kind: "refused", message: /slot B is on trial/ }, "precheck refuses before the sequence takes the lock");
  await t.rejects(drain(onTrial.upgrade(opts(), new AbortController().signal)), { kind: "refused", message: /on trial/ });
  const d = setup();
  const u = createUpgrader({ ...d.deps, slots: undefined });
  t.throws(() => u.precheck(), { kind: "refused", message: /install it first/ });
  await t.rejects(drain(u.upgrade(opts(), new AbortController().signal)), MachineError);
  const e = setup();
  const noRoom = createUpgrader({ ...e.deps, uploads: undefined });
  t.throws(() => noRoom.precheck(), { kind: "refused", message: /no room to receive a bundle/ });
  t.doesNotThrow(() => createUpgrader(setup().deps).precheck(), "precheck passes on an installed machine");
});

const pending = { state: "pending" as const, from: { slot: "A", version: "0.1.0" }, to: { slot: "B", version: "0.2.0" }, reason: "", time: "", services: [{ id: "containerd", checked: true }], healthTimeoutMs: 200 };

t.test("the trial commits the new slot once the services are healthy", async (t) => {
  const s = setup({ slot: "B", bootMode: "trial", version: "0.2.0" });
  s.env.kiln_try = "B";
  writeRecord(s.stateDir, pending);
  const u = createUpgrader(s.deps);
  u.atBoot();
  t.equal(u.status()?.state, "trial");
  t.equal(s.env.kiln_try, "", "the trial clears a kiln_try naming itself");
  await new Promise((r) => setTimeout(r, 100));
  t.equal(u.status()?.state, "committed");
  t.equal(s.env.kiln_slot, "B");
  t.match(s.events.at(-1), /committed: slot B/);
});

t.test("a trial whose services never become healthy records why and reboots to the old slot", async (t) => {
  const s = setup({ slot: "B", bootMode: "trial", version: "0.2.0", services: [{ ...running("containerd", null), state: "Failed", message: "exec format error" }] });
  writeRecord(s.stateDir, pending);
  const u = createUpgrader(s.deps);
  u.atBoot();
  await new Promise((r) => setTimeout(r, 400));
  t.same(s.calls, ["requestReboot the trial of slot B failed"], "a reboot through firmware: GRUB boots the old slot");
  t.equal(s.env.kiln_slot, "A");
  const r = readRecord(s.stateDir, () => {});
  t.match(r?.failure, /not healthy within 0 s: containerd is Failed \(exec format error\)/);
  // The boot after it, on A:
  const back = setup({ slot: "A", bootMode: "committed" });
  writeRecord(back.stateDir, r!);
  const u2 = createUpgrader(back.deps);
  u2.atBoot();
  t.equal(u2.status()?.state, "rolled-back");
  t.match(u2.status()?.reason, /containerd is Failed/);
  t.match(back.events.at(-1), /rolled back: running slot A/);
});

t.test("a boot on the old slot while pending is a rollback: the new slot did not boot", async (t) => {
  const s = setup({ slot: "A", bootMode: "committed" });
  writeRecord(s.stateDir, pending);
  const u = createUpgrader(s.deps);
  u.atBoot();
  t.equal(u.status()?.state, "rolled-back");
  t.match(u.status()?.reason, /did not boot: its kernel or initramfs failed/);
});

t.test("rollback commits the other slot and reboots into it", async (t) => {
  const s = setup({ slot: "B", bootMode: "committed", version: "0.2.0" });
  s.deps.slots!.slots = [{ name: "A", version: "0.1.0", active: false }, { name: "B", version: "0.2.0", active: true }];
  s.env.kiln_slot = "B";
  const u = createUpgrader(s.deps);
  const plan = u.planRollback("default", false);
  t.match(plan, { slot: "A", version: "0.1.0" });
  t.equal(s.env.kiln_slot, "B", "planning changes nothing");
  t.same(s.calls, []);
  const r = await plan.run();
  t.equal(s.env.kiln_slot, "A");
  t.same(s.calls, ["kexec A committed"]);
  t.match(r, { t: "reboot-request", action: "reboot", mode: "default", force: false, kexec: { ok: true, slot: "A" }, why: "rollback to slot A (kiln 0.1.0)" });
  t.equal(u.status()?.state, "rolled-back");
  t.equal(u.status()?.fromSlot, "A");
});

t.test("a forced powercycle rollback reboots through firmware", async (t) => {
  const s = setup({ slot: "B", bootMode: "committed", version: "0.2.0" });
  s.deps.slots!.slots = [{ name: "A", version: "0.1.0", active: false }, { name: "B", version: "0.2.0", active: true }];
  s.env.kiln_slot = "B";
  const r = await createUpgrader(s.deps).planRollback("powercycle", true).run();
  t.equal(s.env.kiln_slot, "A");
  t.same(s.calls, [], "no kernel staged");
  t.match(r, { action: "reboot", mode: "powercycle", force: true });
  t.equal(r.kexec, undefined);
});

t.test("rollback to an empty slot is refused", async (t) => {
  const s = setup();
  t.throws(() => createUpgrader(s.deps).planRollback("default", false), { kind: "refused", message: /slot B holds no kiln/ });
  t.same(s.calls, []);
});

t.test("the record is written atomically as JSON", async (t) => {
  const s = setup();
  writeRecord(s.stateDir, pending);
  t.equal(JSON.parse(readFileSync(join(s.stateDir, "upgrade.json"), "utf8")).state, "pending");
});
