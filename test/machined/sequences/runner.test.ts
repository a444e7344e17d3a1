// The sequence runner: phases in order, a phase's tasks together, events and
// a timeline for every step, one lock with priorities, preemption at task
// boundaries, and reboot requests handed to halt under the same lock.
import t from "tap";
import { kindOf, MachineError } from "../../../src/machined/errors.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { EventBus } from "../../../src/machined/events.js";
import { decide, SEQUENCES, type SequenceName } from "../../../src/machined/sequences/priority.js";
import { type RebootRequest, RebootRequested, rebootRequest } from "../../../src/machined/sequences/reboot-request.js";
import { createRunner, type Phase, phase, task } from "../../../src/machined/sequences/runner.js";

/** The sequence events so far, as "sequence/phase/task action[: error]". */
async function steps(bus: EventBus): Promise<string[]> {
  const out: string[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) {
    const p = e.payload;
    if (p.t === "sequence") out.push(`${[p.sequence, p.phase, p.task].join("/")} ${p.action}${p.error ? `: ${p.error}` : ""}`);
  }
  return out;
}

/** A promise with its resolve exposed. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** A runner over a fresh bus whose halt records the requests it gets (and waits for `halting` when given). */
function harness(halting?: Promise<void>) {
  const bus = createEventBus();
  const halted: RebootRequest[] = [];
  const runner = createRunner({
    events: bus,
    log: () => {},
    halt: async (r) => {
      halted.push(r);
      await halting;
    },
    preemptWaitMs: 5_000,
  });
  return { bus, halted, runner };
}

const blocked = (g: { opened: Promise<void> }): Phase[] => [phase("one", task("wait", () => g.opened))];

t.test("runs phases in order and the tasks of a phase together", async (t) => {
  const { runner } = harness();
  const log: string[] = [];
  const bDone = gate();
  // a waits for b: run one after the other, this phase would never end.
  const a = task("a", async () => {
    log.push("a start");
    await bDone.opened;
    log.push("a stop");
  });
  const b = task("b", () => {
    log.push("b start");
    bDone.open();
  });
  await runner.run("boot", [phase("one", a, b), phase("two", task("c", () => void log.push("c")))]);
  t.same(log, ["a start", "b start", "a stop", "c"]);
});

t.test("publishes start and stop for the sequence, each phase and each task", async (t) => {
  const { bus, runner } = harness();
  await runner.run("boot", [phase("one", task("a", () => {})), phase("two", task("c", () => {}))]);
  t.same(await steps(bus), [
    "boot// start",
    "boot/one/ start",
    "boot/one/a start",
    "boot/one/a stop",
    "boot/one/ stop",
    "boot/two/ start",
    "boot/two/c start",
    "boot/two/c stop",
    "boot/two/ stop",
    "boot// stop",
  ]);
});

t.test("records the timeline: phases and tasks with offsets and durations that add up", async (t) => {
  const { runner } = harness();
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  await runner.run("boot", [phase("one", task("a", () => sleep(40)), task("b", () => sleep(20))), phase("two", task("c", () => sleep(30)))]);
  const [run] = runner.runs();
  t.equal(run?.name, "boot");
  t.equal(run?.result, "ok");
  t.same(
    run?.phases.map((p) => [p.name, p.tasks.map((x) => x.name)]),
    [
      ["one", ["a", "b"]],
      ["two", ["c"]],
    ],
  );
  const [one, two] = run!.phases;
  t.ok(one!.durationMs >= 38, `phase one lasts as long as its longest task (${one!.durationMs} ms)`);
  t.ok(two!.startMs >= one!.startMs + one!.durationMs - 1, "phase two starts when one ends");
  const sum = run!.phases.reduce((n, p) => n + p.durationMs, 0);
  t.ok(Math.abs(sum - run!.durationMs) <= Math.max(3, run!.durationMs * 0.1), `phases add up to the run (${sum} of ${run!.durationMs} ms)`);
});

t.test("stops at a failing task, naming it, and the lock is free again", async (t) => {
  const { bus, runner } = harness();
  const ran: string[] = [];
  const failing = task("mount", () => {
    throw new Error("no such device");
  });
  await t.rejects(runner.run("boot", [phase("one", failing), phase("two", task("after", () => void ran.push("after")))]), { message: "mount: no such device" });
  t.same(ran, [], "the next phase does not run");
  t.match(await steps(bus), ["boot// start", "boot/one/ start", "boot/one/mount start", "boot/one/mount stop: no such device", "boot/one/ stop: mount: no such device", "boot// stop: mount: no such device"]);
  t.equal(runner.current(), undefined);
  t.equal(runner.runs()[0]?.result, "failed");
});

t.test("refuses a request at once, naming what runs and since when", async (t) => {
  const { runner } = harness();
  const release = gate();
  const upgrade = runner.start("upgrade", blocked(release), { label: "upgrade to 0.2.0" });
  let err: unknown;
  try {
    runner.start("applyConfig", [phase("x", task("x", () => {}))]);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof MachineError);
  t.equal(kindOf(err), "busy");
  t.match((err as Error).message, /^upgrade to 0\.2\.0 is running since \d\d:\d\d:\d\d; try again when it ends$/);
  release.open();
  await upgrade.done;
  await runner.run("applyConfig", [phase("x", task("x", () => {}))]);
});

t.test("a task may rename its sequence for later refusals", async (t) => {
  const { runner } = harness();
  const release = gate();
  const s = runner.start("upgrade", [
    phase(
      "one",
      task("verify", async (ctx) => {
        ctx.label("upgrade to 0.3.0");
        await release.opened;
      }),
    ),
  ]);
  await new Promise((r) => setImmediate(r));
  t.equal(runner.current()?.label, "upgrade to 0.3.0");
  t.throws(() => runner.start("rollback", []), { message: /^upgrade to 0\.3\.0 is running since/ });
  release.open();
  await s.done;
  t.equal(runner.runs()[0]?.label, "upgrade to 0.3.0");
});

// Each running sequence × each request: R refused, P preempts (no sequence runs: always run).
const table: Record<SequenceName, string> = {
  //            boot apply bootstrap install upgrade rollback reset reboot shutdown
  boot: /*     */ "R R R R R R P P P",
  applyConfig: /**/ "R R R R R R P P P",
  bootstrap: /**/ "R R R R R R P P P",
  install: /*  */ "R R R R R R P P P",
  upgrade: /*  */ "R R R R R R P P P",
  rollback: /* */ "R R R R R R P P P",
  reset: /*    */ "R R R R R R R R R",
  reboot: /*   */ "R R R R R R R R R",
  shutdown: /* */ "R R R R R R R R R",
};

t.test("the refusal table: every running sequence × every request", async (t) => {
  for (const running of SEQUENCES) {
    const row = table[running].split(" ");
    SEQUENCES.forEach((request, i) => {
      const want = row[i] === "P" ? "preempt" : "refuse";
      t.equal(decide(request, running), want, `${request} while ${running} runs: ${want}`);
    });
  }
  for (const request of SEQUENCES) t.equal(decide(request, undefined), "run", `${request} while nothing runs`);
});

t.test("the refusal table holds through the runner itself", async (t) => {
  for (const running of SEQUENCES) {
    for (const request of SEQUENCES) {
      const { runner } = harness();
      const release = gate();
      const held = runner.start(running, blocked(release));
      let outcome = "preempt";
      try {
        runner.start(request, [phase("x", task("x", () => {}))]).done.catch(() => {});
      } catch (err) {
        outcome = kindOf(err) === "busy" ? "refuse" : "other";
      }
      t.equal(outcome, decide(request, running), `${request} while ${running}`);
      release.open();
      await held.done.catch(() => {});
    }
  }
});

t.test("a reboot preempts boot at a task boundary: the task ends, the next phase never runs", async (t) => {
  const { bus, runner, halted } = harness();
  const release = gate();
  const ran: string[] = [];
  const signals: AbortSignal[] = [];
  const boot = runner.start("boot", [
    phase(
      "config",
      task("slow", async (ctx) => {
        signals.push(ctx.signal);
        await release.opened;
        ran.push("slow ended");
      }),
    ),
    phase("networkApi", task("later", () => void ran.push("later"))),
  ]);
  const bootErr = boot.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  const reboot = runner.start("reboot", [phase("request", task("requestReboot", () => rebootRequest("reboot", "test")))]);
  t.equal(signals[0]?.aborted, true, "boot's signal is aborted at once");
  t.equal(runner.current()?.name, "reboot", "the reboot holds the lock at once");
  await new Promise((r) => setTimeout(r, 20));
  t.same(halted, [], "the reboot waits for the running task to end");
  release.open();
  await reboot.done;
  t.equal(kindOf(await bootErr), "cancelled", "boot ends as preempted");
  t.same(ran, ["slow ended"]);
  await new Promise((r) => setTimeout(r, 10));
  t.equal(halted.length, 1);
  t.equal(runner.runs()[0]?.result, "preempted");
  t.ok((await steps(bus)).includes("reboot/power/reboot stop"));
});

t.test("a sequence preempted while its last task prepares a reboot hands nothing to halt: only the preempting one goes down", async (t) => {
  const { runner, halted } = harness();
  const staging = gate();
  const rollback = runner.start("rollback", [
    phase(
      "bootloader",
      task("commitOtherSlot", async () => {
        await staging.opened; // a kexec load under way
        return rebootRequest("reboot", "rollback to slot A");
      }),
    ),
  ]);
  const rollbackErr = rollback.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  const reset = runner.start("reset", [phase("request", task("requestReboot", () => rebootRequest("reboot", "reset")))]);
  staging.open();
  await reset.done;
  t.equal(kindOf(await rollbackErr), "cancelled", "the rollback ends as preempted");
  await new Promise((r) => setTimeout(r, 20));
  t.same(
    halted.map((r) => r.why),
    ["reset"],
    "halt got the reset's request only",
  );
  t.equal(runner.runs()[0]?.result, "preempted");
});

t.test("a task's reboot request stops its sequence and goes to halt under the same lock", async (t) => {
  const halting = gate();
  const { runner, halted } = harness(halting.opened);
  const ran: string[] = [];
  const s = runner.start("applyConfig", [phase("save", task("save", () => void ran.push("save"))), phase("reboot", task("requestReboot", () => rebootRequest("reboot", "needs a reboot"))), phase("after", task("after", () => void ran.push("after")))]);
  await s.done;
  t.same(ran, ["save"], "later phases do not run");
  await new Promise((r) => setTimeout(r, 10));
  t.equal(halted[0]?.why, "needs a reboot");
  t.equal(runner.current()?.name, "reboot", "the lock is held as a reboot while halting");
  t.throws(() => runner.start("applyConfig", []), { message: /^reboot \(needs a reboot\) is running since/ });
  halting.open();
  await new Promise((r) => setTimeout(r, 10));
  t.equal(runner.current(), undefined);
  t.equal(runner.runs()[0]?.result, "reboot");
  t.same(
    runner.runs()[0]?.phases.map((p) => p.name),
    ["save", "reboot", "power"],
  );
});

t.test("a thrown RebootRequested counts as a returned request", async (t) => {
  const { runner, halted } = harness();
  await runner.run("upgrade", [
    phase(
      "one",
      task("deep", () => {
        throw new RebootRequested(rebootRequest("poweroff", "from deep inside", { force: true }));
      }),
    ),
  ]);
  await new Promise((r) => setTimeout(r, 10));
  t.same(halted.map((r) => [r.action, r.force, r.why]), [["poweroff", true, "from deep inside"]]);
});

t.test("keeps the boot and the newest runs", async (t) => {
  const { runner } = harness();
  await runner.run("boot", []);
  for (let i = 0; i < 25; i++) await runner.run("applyConfig", []);
  const runs = runner.runs();
  t.equal(runs[0]?.name, "boot");
  t.equal(runs.length, 21);
  t.equal(runs.at(-1)?.id, 26);
});
