// Steps of long work on stderr, `kilnctl: [phase] message`, one line each
// whether or not stderr is a terminal; on a terminal, a step that counts
// bytes (upload, fetch, write) and is not done yet also gets a progress bar
// (cli-progress) under its line; elsewhere the line carries the byte count. Never on stdout, so `-o json` stays clean.
import { type Params, SingleBar } from "cli-progress";
import { formatBytes } from "./bytes.js";
import type { OutStream } from "./deps.js";

/** One step as it arrives: a phase, what it does, and bytes done of total (0 when not counted). */
export interface Step {
  phase: string;
  message: string;
  done: number;
  total: number;
}

export interface StepPrinter {
  /** Shows a step: a new line when its phase or message changed, else the bar moves. */
  show(step: Step): void;
  /** Stops the bar, if any; call before anything else goes to stderr. */
  end(): void;
}

const barWidth = 30;

/** A step printer on `stderr`. */
export function createStepPrinter(stderr: OutStream): StepPrinter {
  let current: Step | undefined;
  let bar: SingleBar | undefined;
  const end = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    show(step) {
      const samePhase = current?.phase === step.phase;
      if (samePhase) bar?.update(step.done);
      if (samePhase && current?.message === step.message) return;
      end();
      current = step;
      const barred = stderr.isTTY === true && step.total > 0 && step.done < step.total;
      stderr.write(`kilnctl: [${step.phase}] ${step.message}${barred ? "" : bytesSuffix(step)}\n`);
      if (barred) bar = startBar(stderr, step);
    },
    end,
  };
}

/** Bytes for a step's line when no bar shows them: ": 3.0 MiB", or ": 1.0 MiB of 3.0 MiB" part way. */
function bytesSuffix(step: Step): string {
  if (step.total <= 0) return "";
  const partWay = step.done > 0 && step.done < step.total;
  return `: ${partWay ? `${formatBytes(step.done)} of ` : ""}${formatBytes(step.total)}`;
}

/** A byte bar under the step's line; it leaves the terminal's settings alone and Ctrl-C to kilnctl. */
function startBar(stderr: OutStream, step: Step): SingleBar {
  const bar = new SingleBar({
    stream: stderr as unknown as NodeJS.WritableStream,
    format: (_options, params) => barLine(step.phase, params),
    linewrap: true,
    hideCursor: false,
    gracefulExit: false,
  });
  bar.start(step.total, step.done);
  return bar;
}

/** `kilnctl: [upload] [=========-----] 64% 192.0 MiB of 300.0 MiB`. */
function barLine(phase: string, p: Params): string {
  const filled = Math.round(Math.min(1, p.progress) * barWidth);
  const drawn = `${"=".repeat(filled)}${"-".repeat(barWidth - filled)}`;
  return `kilnctl: [${phase}] [${drawn}] ${Math.floor(p.progress * 100)}% ${formatBytes(p.value)} of ${formatBytes(p.total)}`;
}
