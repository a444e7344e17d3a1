// The one lock of the machine's lifecycle. Every operation that changes the
// machine (boot, apply, install, upgrade, rollback, reset, reboot, shutdown)
// is a sequence: phases in order, the tasks of a phase together. start()
// takes the lock at once or refuses with what runs and since when; the
// sequence then runs in the background. A task may return (or throw) a
// reboot request: the runner stops the sequence there and hands the request
// to `halt`, still holding the lock. Every sequence, phase and task start
// and stop is an event with its duration, and runs are kept as a timeline.
import { performance } from "node:perf_hooks";
import { busy, cancelled, MachineError } from "../errors.js";
import type { EventBus } from "../events.js";
import { decide, type SequenceName } from "./priority.js";
import { asRebootRequest, type RebootRequest } from "./reboot-request.js";
import { createTimeline, endRun, endStep, type Holder, type PhaseRun, type SequenceRun, startStep, type TaskRun } from "./timeline.js";

export type { Holder };

/** What a task sees: its sequence's cancel signal, and a way to rename the sequence for refusals. */
export interface TaskContext {
  signal: AbortSignal;
  /** Renames the running sequence, e.g. "upgrade to 0.2.0" once the bundle is read. */
  label(text: string): void;
}

export interface Task {
  name: string;
  /** Does the work; a result (or a promise of one) that is a RebootRequest ends the sequence in that reboot, anything else is ignored. */
  run(ctx: TaskContext): unknown;
}

export interface Phase {
  name: string;
  tasks: Task[];
}

/** `phase("name", taskA, taskB)`: tasks that run together. */
export function phase(name: string, ...tasks: Task[]): Phase {
  return { name, tasks };
}

/** `task("name", fn)`: a task from a function. */
export function task(name: string, run: Task["run"]): Task {
  return { name, run };
}

export interface Started {
  /** Settles when the sequence's own phases end (a reboot request: once it is handed to halt); rejects with a task's error or when preempted. */
  done: Promise<void>;
}

export interface RunnerDeps {
  events: Pick<EventBus, "publish">;
  /** Carries out a reboot request: stops services, unmounts, syncs, reboot(2). Never resolves on metal. */
  halt(request: RebootRequest): Promise<void>;
  log(line: string): void;
  /** How long a preempting sequence waits for the preempted one to reach a task boundary. Default 30 s. */
  preemptWaitMs?: number;
}

export interface SequenceRunner {
  /** Takes the lock now (or throws a busy error) and runs the sequence in the background. */
  start(name: SequenceName, phases: Phase[], opts?: { label?: string }): Started;
  /** start(), then wait for done. */
  run(name: SequenceName, phases: Phase[], opts?: { label?: string }): Promise<void>;
  current(): Holder | undefined;
  /** The boot and the newest runs, oldest first. */
  runs(): SequenceRun[];
}

interface Running extends Holder {
  abort: AbortController;
  /** Settles when this sequence no longer runs (halt included). */
  settled: Promise<void>;
}

export function createRunner(d: RunnerDeps): SequenceRunner {
  const timeline = createTimeline();
  let holder: Running | undefined;
  const start = (name: SequenceName, phases: Phase[], opts: { label?: string } = {}): Started => {
    const held = holder;
    const decision = decide(name, held?.name);
    if (held && decision === "refuse") throw busy(`${held.label} is running since ${clock(held.since)}; try again when it ends`);
    if (held && decision === "preempt") held.abort.abort(cancelled(`preempted by ${opts.label ?? name}`));
    const me: Running = { name, label: opts.label ?? name, since: new Date(), abort: new AbortController(), settled: Promise.resolve() };
    holder = me;
    let phasesDone!: (err?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      phasesDone = (err) => (err === undefined ? resolve() : reject(err));
    });
    // The lock is free before `done` settles, so a caller may start the next sequence at once.
    const release = () => {
      if (holder === me) holder = undefined;
    };
    me.settled = (async () => {
      if (held) await settleOrTimeout(held.settled, d.preemptWaitMs ?? 30_000);
      await execute(d, timeline.begin(name, me.label), me, phases, {
        finish: (err) => {
          release();
          phasesDone(err);
        },
        replied: () => phasesDone(),
      });
    })()
      .catch((err: unknown) => d.log(`sequence ${name}: ${messageOf(err)}`))
      .finally(release);
    return { done };
  };
  return {
    start,
    run: (name, phases, opts) => start(name, phases, opts).done,
    current: () => (holder ? { name: holder.name, label: holder.label, since: holder.since } : undefined),
    runs: () => timeline.runs(),
  };
}

/** How execute ends a sequence: `finish` frees the lock and settles done; `replied` settles done only (the lock is kept while halting). */
interface Ending {
  finish(err?: unknown): void;
  replied(): void;
}

/** Runs the phases with their events and record; then hands a reboot request to halt. */
async function execute(d: RunnerDeps, run: SequenceRun, me: Running, phases: Phase[], end: Ending): Promise<void> {
  const t0 = performance.now();
  const at = () => performance.now() - t0;
  const emit = (phaseName: string, taskName: string, action: "start" | "stop", error = "", durationMs = 0) =>
    d.events.publish({ t: "sequence", sequence: run.name, phase: phaseName, task: taskName, action, error, durationMs: Math.round(durationMs) });
  const label = (text: string) => {
    me.label = text;
    run.label = text;
  };
  const ctx: TaskContext = { signal: me.abort.signal, label };
  emit("", "", "start");
  let request: RebootRequest | undefined;
  try {
    for (const p of phases) {
      me.abort.signal.throwIfAborted();
      request = await runPhase(p, ctx, run, at, emit);
      if (request) {
        // A sequence preempted while its last task staged a reboot (a kexec
        // load takes seconds) must not go down too: the preempting one does.
        me.abort.signal.throwIfAborted();
        break;
      }
    }
  } catch (err) {
    const result = me.abort.signal.aborted ? "preempted" : "failed";
    endRun(run, at(), result, messageOf(err));
    emit("", "", "stop", messageOf(err), at());
    end.finish(me.abort.signal.aborted ? me.abort.signal.reason : err);
    return;
  }
  if (!request) {
    endRun(run, at(), "ok");
    emit("", "", "stop", "", at());
    return end.finish();
  }
  // Still holding the lock: `done` settles (the caller's reply goes out) while the machine goes down.
  end.replied();
  await handOver(d, me, run, request, at, emit);
}

/** One phase: its tasks together; the first reboot request among them, if any. Throws the first task error. */
async function runPhase(p: Phase, ctx: TaskContext, run: SequenceRun, at: () => number, emit: Emit): Promise<RebootRequest | undefined> {
  const rec: PhaseRun = { ...startStep(p.name, at()), tasks: [] };
  run.phases.push(rec);
  emit(p.name, "", "start");
  const outcomes = await Promise.allSettled(p.tasks.map((t) => runTask(t, ctx, rec, at, emit)));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  const request = outcomes.map((o) => (o.status === "fulfilled" ? o.value : undefined)).find((r) => r !== undefined);
  endStep(rec, at(), failed ? "failed" : request ? "reboot" : "ok", failed ? messageOf(failed.reason) : "");
  emit(p.name, "", "stop", rec.error, rec.durationMs);
  if (failed) throw failed.reason;
  return request;
}

type Emit = (phase: string, task: string, action: "start" | "stop", error?: string, durationMs?: number) => void;

/** One task with its record and events; a thrown reboot request counts as returned. */
async function runTask(t: Task, ctx: TaskContext, phaseRec: PhaseRun, at: () => number, emit: Emit): Promise<RebootRequest | undefined> {
  const rec: TaskRun = startStep(t.name, at());
  phaseRec.tasks.push(rec);
  emit(phaseRec.name, t.name, "start");
  try {
    const out = await t.run(ctx);
    const request = asRebootRequest(out);
    endStep(rec, at(), request ? "reboot" : "ok");
    emit(phaseRec.name, t.name, "stop", "", rec.durationMs);
    return request;
  } catch (err) {
    const request = asRebootRequest(err);
    endStep(rec, at(), request ? "reboot" : "failed", request ? "" : messageOf(err));
    emit(phaseRec.name, t.name, "stop", rec.error, rec.durationMs);
    if (request) return request;
    // A machine error already names the problem (and its kind is what the caller gets); others get the task's name.
    if (err instanceof MachineError) throw err;
    throw new Error(`${t.name}: ${messageOf(err)}`, { cause: err });
  }
}

/** The sequence becomes a reboot (or shutdown) under the same lock, recorded as its last phase. */
async function handOver(d: RunnerDeps, me: Running, run: SequenceRun, request: RebootRequest, at: () => number, emit: Emit): Promise<void> {
  me.name = request.action === "poweroff" ? "shutdown" : "reboot";
  me.label = `${me.name} (${request.why})`;
  d.log(`${run.label}: ${me.label}`);
  const rec: PhaseRun = { ...startStep("power", at()), tasks: [] };
  run.phases.push(rec);
  emit("power", request.action, "start");
  // Let the reply of the call that started this go out before services stop.
  await new Promise((r) => setImmediate(r));
  try {
    await d.halt(request);
    endStep(rec, at(), "ok");
    endRun(run, at(), "reboot");
    emit("power", request.action, "stop", "", rec.durationMs);
    emit("", "", "stop", "", at());
  } catch (err) {
    endStep(rec, at(), "failed", messageOf(err));
    endRun(run, at(), "failed", messageOf(err));
    emit("power", request.action, "stop", messageOf(err), rec.durationMs);
    emit("", "", "stop", messageOf(err), at());
  }
}

/** Waits for a promise, at most `ms`. */
function settleOrTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** 14:02:11, in the machine's local time. */
function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
