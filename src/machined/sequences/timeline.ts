// What the runner remembers of each sequence it ran: phases and tasks with
// their start offsets and durations. The boot is always kept; of the rest,
// the newest few. This is the boot timeline `kilnctl get sequences` shows.
import type { SequenceName } from "./priority.js";

/** Who holds the lock. */
export interface Holder {
  name: SequenceName;
  label: string;
  since: Date;
}

export type StepResult = "running" | "ok" | "failed" | "preempted" | "skipped" | "reboot";

export interface TaskRun {
  name: string;
  /** Milliseconds from the sequence's start. */
  startMs: number;
  durationMs: number;
  result: StepResult;
  error: string;
}

export interface PhaseRun extends TaskRun {
  tasks: TaskRun[];
}

export interface SequenceRun {
  id: number;
  name: SequenceName;
  /** In words, e.g. "upgrade to 0.2.0". */
  label: string;
  started: Date;
  durationMs: number;
  result: StepResult;
  error: string;
  phases: PhaseRun[];
}

/** How many runs besides the boot are kept. */
const KEEP = 20;

export interface Timeline {
  /** Starts recording a run; the returned record is updated in place. */
  begin(name: SequenceName, label: string): SequenceRun;
  /** The boot (if any) then the newest runs, oldest first. */
  runs(): SequenceRun[];
}

export function createTimeline(): Timeline {
  let boot: SequenceRun | undefined;
  const recent: SequenceRun[] = [];
  let next = 1;
  return {
    begin(name, label) {
      const run: SequenceRun = { id: next++, name, label, started: new Date(), durationMs: 0, result: "running", error: "", phases: [] };
      if (name === "boot" && !boot) boot = run;
      else {
        recent.push(run);
        if (recent.length > KEEP) recent.shift();
      }
      return run;
    },
    runs: () => (boot ? [boot, ...recent] : [...recent]),
  };
}

/** A step's record, started now (`offsetMs` from its sequence's start). */
export function startStep(name: string, offsetMs: number): TaskRun {
  return { name, startMs: Math.round(offsetMs), durationMs: 0, result: "running", error: "" };
}

/** Ends a step's record. */
export function endStep(step: TaskRun, offsetMs: number, result: StepResult, error = ""): void {
  step.durationMs = Math.max(0, Math.round(offsetMs) - step.startMs);
  step.result = result;
  step.error = error;
}

/** Ends a run's record. */
export function endRun(run: SequenceRun, offsetMs: number, result: StepResult, error = ""): void {
  run.durationMs = Math.max(0, Math.round(offsetMs));
  run.result = result;
  run.error = error;
}
