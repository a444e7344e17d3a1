// Sequences are data: phases run in order, the tasks of a phase together.
// One sequence runs at a time; a sequence may name others it preempts
// (reboot and shutdown preempt boot).
import { ApiError, Code } from "../grpc/errors.js";
import type { EventBus } from "./events.js";

export interface Task {
  name: string;
  run(signal: AbortSignal): Promise<void> | void;
}

export interface Phase {
  name: string;
  tasks: Task[];
}

export interface Sequencer {
  /** Runs a sequence to its end; rejects if another runs that it may not preempt. */
  run(sequence: string, phases: Phase[], opts?: { preempts?: string[] }): Promise<void>;
  /** The name of the running sequence, if any. */
  current(): string | undefined;
}

/** `phase("name", taskA, taskB)` — a phase from tasks. */
export function phase(name: string, ...tasks: Task[]): Phase {
  return { name, tasks };
}

/** `task("name", fn)` — a task from a function. */
export function task(name: string, run: Task["run"]): Task {
  return { name, run };
}

export function createSequencer(events: EventBus): Sequencer {
  let running: { name: string; abort: AbortController } | undefined;
  return {
    current: () => running?.name,
    async run(sequence, phases, opts = {}) {
      if (running && !opts.preempts?.includes(running.name)) {
        throw new ApiError(Code.FAILED_PRECONDITION, `sequence "${running.name}" is running; try again when it has finished`);
      }
      running?.abort.abort(new Error(`preempted by ${sequence}`));
      const me = { name: sequence, abort: new AbortController() };
      running = me;
      try {
        await runPhases(events, sequence, phases, me.abort.signal);
      } finally {
        if (running === me) running = undefined;
      }
    },
  };
}

/** Runs the phases in order, publishing start/stop events for the sequence and each task. */
async function runPhases(events: EventBus, sequence: string, phases: Phase[], signal: AbortSignal): Promise<void> {
  const emit = (task: string, action: "start" | "stop", error = "") =>
    events.publish({ t: "sequence", sequence, task, action, error });
  emit("", "start");
  try {
    for (const p of phases) {
      signal.throwIfAborted();
      await Promise.all(p.tasks.map((t) => runTask(t, signal, emit)));
    }
    emit("", "stop");
  } catch (err) {
    emit("", "stop", messageOf(err));
    throw err;
  }
}

/** Runs one task with its events; errors carry the task's name. */
async function runTask(t: Task, signal: AbortSignal, emit: (task: string, action: "start" | "stop", error?: string) => void) {
  emit(t.name, "start");
  try {
    await t.run(signal);
    emit(t.name, "stop");
  } catch (err) {
    emit(t.name, "stop", messageOf(err));
    throw new Error(`task ${t.name}: ${messageOf(err)}`, { cause: err });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
