// The way down: powerDown stages a kexec for a default-mode reboot (first when
// forced, after the services have stopped when graceful) and
// ends in reboot(RB.KEXEC) when that worked, in a full reboot otherwise
// (powercycle, no slot, a failed load, a failed kexec), and says which in the
// rebooting event. The fake Sys is PID 1, so killAll's kill(-1) only records.
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { KexecPrepared } from "../../../src/machined/kexec.js";
import type { RebootMode } from "../../../src/machined/machine.js";
import { type PowerAction, powerDown } from "../../../src/machined/power.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { RB } from "../../../src/sys/sys.js";

/** Runs powerDown (forced: no grace to wait out) with a fake Sys and an optional kexec stager. */
async function run(action: PowerAction, mode: RebootMode | undefined, prepared?: () => KexecPrepared, sys = createFakeSys()) {
  const events = createEventBus({ capacity: 100 });
  const logged: string[] = [];
  const stagedBeforeUnmount: boolean[] = [];
  const prepareKexec = prepared
    ? async () => {
        stagedBeforeUnmount.push(sys.argsOf("umount2").length === 0 && sys.argsOf("kill").length === 0);
        return prepared();
      }
    : undefined;
  const deps = { sys, events, log: (l: string) => void logged.push(l), stopServices: async () => {}, closeApi: async () => {}, stopReaper: () => {} };
  await powerDown(prepareKexec ? { ...deps, prepareKexec } : deps, action, true, mode);
  return { sys, logged, stagedBeforeUnmount, message: await machineMessage(events) };
}

/** The messages of the machine events published, in order. */
async function machineMessages(bus: ReturnType<typeof createEventBus>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) if (e.payload.t === "machine") out.push(e.payload.message);
  return out;
}

/** The message of the (only) machine event published. */
async function machineMessage(bus: ReturnType<typeof createEventBus>): Promise<string> {
  const machine = await machineMessages(bus);
  return machine.length === 1 ? (machine[0] ?? "") : `expected one machine event, got ${JSON.stringify(machine)}`;
}

t.test("a default reboot stages the kernel first and ends in reboot(RB.KEXEC)", async (t) => {
  const r = await run("reboot", "default", () => ({ ok: true, slot: "A" }));
  t.same(r.stagedBeforeUnmount, [true], "staged once, before processes are ended and filesystems unmounted");
  t.same(r.sys.argsOf("reboot"), [[RB.KEXEC]]);
  t.equal(r.message, "forced; kexec into slot A");
  t.ok(r.sys.argsOf("sync").length > 0, "synced before");
});

t.test("a graceful default reboot stages the kernel once the services have stopped, and says so at once", async (t) => {
  const sys = createFakeSys();
  const events = createEventBus({ capacity: 100 });
  const order: string[] = [];
  const deps = {
    sys,
    events,
    log: () => {},
    stopServices: async () => {
      order.push("services stopped");
    },
    closeApi: async () => {},
    stopReaper: () => {},
    prepareKexec: async (): Promise<KexecPrepared> => {
      order.push(`staged (${sys.argsOf("umount2").length} unmounts before)`);
      return { ok: true, slot: "A" };
    },
  };
  await powerDown(deps, "reboot", false, "default");
  t.same(order, ["services stopped", "staged (0 unmounts before)"], "staged after the services stopped, before anything was unmounted");
  t.same(sys.argsOf("reboot"), [[RB.KEXEC]]);
  t.same(await machineMessages(events), ["graceful; kexec once services have stopped", "graceful; kexec into slot A"], "announced at once, then what was staged");
});

t.test("a graceful default reboot whose staging fails reboots fully and says why in its second event", async (t) => {
  const sys = createFakeSys();
  const events = createEventBus({ capacity: 100 });
  const deps = { sys, events, log: () => {}, stopServices: async () => {}, closeApi: async () => {}, stopReaper: () => {} };
  await powerDown({ ...deps, prepareKexec: async (): Promise<KexecPrepared> => ({ ok: false, why: "slot B is on trial" }) }, "reboot", false, "default");
  t.same(sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
  t.same(await machineMessages(events), ["graceful; kexec once services have stopped", "graceful; full reboot: slot B is on trial"]);
});

t.test("nothing blocking runs in the caller's turn: a request that asked for the reboot is answered before the kernel is staged", async (t) => {
  const sys = createFakeSys();
  const staged: number[] = [];
  const deps = { sys, events: createEventBus({ capacity: 10 }), log: () => {}, stopServices: async () => {}, closeApi: async () => {}, stopReaper: () => {} };
  const t0 = performance.now();
  const prepareKexec = async (): Promise<KexecPrepared> => {
    staged.push(performance.now() - t0);
    return { ok: true, slot: "A" };
  };
  const down = powerDown({ ...deps, prepareKexec }, "reboot", true, "default");
  t.same(staged, [], "not staged in the same turn");
  await new Promise((r) => setImmediate(r));
  t.same(staged, [], "nor in the next I/O turn, where an RPC's answer is written");
  await down;
  t.equal(staged.length, 1, "staged once the answer had its turn");
});

t.test("a powercycle reboot never stages a kexec", async (t) => {
  const r = await run("reboot", "powercycle", () => t.fail("staged") as never);
  t.same(r.sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
  t.equal(r.message, "forced; full reboot (powercycle)");
});

t.test("a reboot without a mode is a full one", async (t) => {
  const r = await run("reboot", undefined, () => t.fail("staged") as never);
  t.same(r.sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
});

t.test("a default reboot that cannot kexec reboots fully and says why", async (t) => {
  const r = await run("reboot", "default", () => ({ ok: false, why: "slot B is on trial" }));
  t.same(r.sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
  t.equal(r.message, "forced; full reboot: slot B is on trial");
  t.ok(r.logged.includes("reboot: no kexec: slot B is on trial"));
});

t.test("a stager that throws means a full reboot", async (t) => {
  const r = await run("reboot", "default", () => {
    throw new Error("no /proc");
  });
  t.same(r.sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
  t.equal(r.message, "forced; full reboot: no /proc");
});

t.test("without a stager (the sandbox) a default reboot is a full one", async (t) => {
  const r = await run("reboot", "default");
  t.same(r.sys.argsOf("reboot"), [[RB.AUTOBOOT]]);
  t.equal(r.message, "forced; full reboot: kexec is not possible on this platform");
});

t.test("a failed reboot(RB.KEXEC) falls back to a full reboot", async (t) => {
  const sys = createFakeSys();
  sys.failOn("reboot", (cmd: number) => cmd === RB.KEXEC, "EINVAL");
  const r = await run("reboot", "default", () => ({ ok: true, slot: "A" }), sys);
  t.same(sys.argsOf("reboot"), [[RB.KEXEC], [RB.AUTOBOOT]]);
  t.match(r.logged.join("\n"), /kexec failed: reboot\(.*EINVAL.*; full reboot/);
});

t.test("power off never stages a kexec", async (t) => {
  const r = await run("poweroff", "default", () => t.fail("staged") as never);
  t.same(r.sys.argsOf("reboot"), [[RB.POWER_OFF]]);
  t.equal(r.message, "forced");
});
