// The sequencer: phases in order, a phase's tasks together, events for each
// step, one sequence at a time, and preemption.
import t from "tap";
import { ApiError, Code } from "../../../src/grpc/errors.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { EventBus, EventPayload } from "../../../src/machined/events.js";
import { createSequencer, phase, task } from "../../../src/machined/sequencer.js";

/** The sequence events published so far, as [sequence, task, action, error]. */
async function steps(bus: EventBus): Promise<string[][]> {
  const out: string[][] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) {
    const p: EventPayload = e.payload;
    if (p.t === "sequence") out.push([p.sequence, p.task, p.action, p.error]);
  }
  return out;
}

/** A promise with its resolve exposed. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** A task that resolves when its signal aborts, rejecting with the abort reason. */
function untilAborted(name: string, seen: AbortSignal[]) {
  return task(
    name,
    (signal) =>
      new Promise<void>((_, reject) => {
        seen.push(signal);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  );
}

t.test("runs phases in order and the tasks of a phase together", async (t) => {
  const seq = createSequencer(createEventBus());
  const log: string[] = [];
  const bDone = gate();
  // a waits for b: run one after the other, this phase would never end.
  const a = task("a", async () => {
    log.push("a start");
    await bDone.opened;
    log.push("a stop");
  });
  const b = task("b", async () => {
    log.push("b start");
    bDone.open();
  });
  const c = task("c", () => void log.push("c"));
  await seq.run("boot", [phase("one", a, b), phase("two", c)]);
  t.same(log, ["a start", "b start", "a stop", "c"]);
});

t.test("publishes start and stop for the sequence and for each task", async (t) => {
  const bus = createEventBus();
  const seq = createSequencer(bus);
  await seq.run("boot", [phase("one", task("a", () => {}), task("b", () => {})), phase("two", task("c", () => {}))]);
  t.same(await steps(bus), [
    ["boot", "", "start", ""],
    ["boot", "a", "start", ""],
    ["boot", "b", "start", ""],
    ["boot", "a", "stop", ""],
    ["boot", "b", "stop", ""],
    ["boot", "c", "start", ""],
    ["boot", "c", "stop", ""],
    ["boot", "", "stop", ""],
  ]);
});

t.test("stops at a failing task, naming it, and publishes the error text", async (t) => {
  const bus = createEventBus();
  const seq = createSequencer(bus);
  const ran: string[] = [];
  const failing = task("mount", () => {
    throw new Error("no such device");
  });
  const err = await seq.run("boot", [phase("one", failing), phase("two", task("after", () => void ran.push("after")))]).then(
    () => new Error("resolved"),
    (e: Error) => e,
  );
  t.equal(err.message, "task mount: no such device");
  t.equal((err.cause as Error).message, "no such device");
  t.same(ran, [], "the next phase does not run");
  t.same(await steps(bus), [
    ["boot", "", "start", ""],
    ["boot", "mount", "start", ""],
    ["boot", "mount", "stop", "no such device"],
    ["boot", "", "stop", "task mount: no such device"],
  ]);
  t.equal(seq.current(), undefined, "a failed sequence no longer runs");
});

t.test("publishes a thrown non-Error as its text", async (t) => {
  const bus = createEventBus();
  const seq = createSequencer(bus);
  const failing = task("odd", () => {
    throw "just a string";
  });
  await t.rejects(seq.run("boot", [phase("one", failing)]), { message: "task odd: just a string" });
  t.same((await steps(bus))[2], ["boot", "odd", "stop", "just a string"]);
});

t.test("refuses a second sequence while one runs, naming the running one", async (t) => {
  const seq = createSequencer(createEventBus());
  const release = gate();
  const boot = seq.run("boot", [phase("one", task("wait", () => release.opened))]);
  t.equal(seq.current(), "boot");
  const err = await seq.run("upgrade", [phase("one", task("x", () => {}))]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ApiError, "an ApiError");
  t.equal((err as ApiError).code, Code.FAILED_PRECONDITION);
  t.equal((err as ApiError).message, 'sequence "boot" is running; try again when it has finished');
  release.open();
  await boot;
  t.equal(seq.current(), undefined);
  await seq.run("upgrade", [phase("one", task("x", () => {}))]);
});

t.test("refuses a sequence that may preempt others but not the running one", async (t) => {
  const seq = createSequencer(createEventBus());
  const release = gate();
  const reboot = seq.run("reboot", [phase("power", task("wait", () => release.opened))], { preempts: ["boot"] });
  await t.rejects(seq.run("shutdown", [], { preempts: ["boot"] }), {
    code: Code.FAILED_PRECONDITION,
    message: 'sequence "reboot" is running; try again when it has finished',
  });
  release.open();
  await reboot;
});

t.test("aborts the running sequence's signal when a sequence that preempts it starts", async (t) => {
  const bus = createEventBus();
  const seq = createSequencer(bus);
  const signals: AbortSignal[] = [];
  const boot = seq.run("boot", [phase("services", untilAborted("wait", signals))]);
  const bootErr = boot.then(
    () => new Error("resolved"),
    (e: Error) => e,
  );
  const release = gate();
  const reboot = seq.run("reboot", [phase("power", task("down", () => release.opened))], { preempts: ["boot"] });
  t.equal(signals[0]?.aborted, true);
  t.equal((signals[0]!.reason as Error).message, "preempted by reboot");
  t.equal((await bootErr).message, "task wait: preempted by reboot");
  t.equal(seq.current(), "reboot", "the preempted sequence ending does not clear the new one");
  release.open();
  await reboot;
  t.equal(seq.current(), undefined);
  t.same(
    (await steps(bus)).filter(([s]) => s === "boot"),
    [
      ["boot", "", "start", ""],
      ["boot", "wait", "start", ""],
      ["boot", "wait", "stop", "preempted by reboot"],
      ["boot", "", "stop", "task wait: preempted by reboot"],
    ],
  );
});

t.test("does not start the next phase of a preempted sequence", async (t) => {
  const seq = createSequencer(createEventBus());
  const release = gate();
  const ran: string[] = [];
  // This task ignores its signal: the phase ends when it does, then the sequence stops.
  const boot = seq.run("boot", [phase("one", task("slow", () => release.opened)), phase("two", task("later", () => void ran.push("later")))]);
  const shutdown = seq.run("shutdown", [phase("power", task("down", () => {}))], { preempts: ["boot"] });
  await shutdown;
  release.open();
  await t.rejects(boot, { message: "preempted by shutdown" });
  t.same(ran, []);
});

t.test("builds phases and tasks from names", async (t) => {
  const run = () => {};
  t.same(phase("p", task("a", run), task("b", run)), { name: "p", tasks: [{ name: "a", run }, { name: "b", run }] });
  t.same(phase("empty"), { name: "empty", tasks: [] });
});
