// Runs a service as a task of machined itself: kiln's own controllers (the
// control plane's bootstrap resources and CSR approver) are services like any
// other — started after their dependencies, shown by `kilnctl services`,
// logged, restarted by their policy — without a process of their own. The
// task ends when its signal aborts; its pid is machined's.
import type { ExitStatus, LogSink, RunningProcess, Runner } from "../service.js";

/** What a task gets: a signal that aborts when the service is stopped, and a line logger. */
export interface TaskScope {
  signal: AbortSignal;
  log(line: string): void;
}

/** A Runner whose every start() runs `task` in this process; it exits 0 when the task returns (or is stopped), 1 when it throws. */
export function taskRunner(task: (scope: TaskScope) => Promise<void>): Runner {
  return { start: (log) => start(task, log) };
}

function start(task: (scope: TaskScope) => Promise<void>, sink: LogSink): RunningProcess {
  const controller = new AbortController();
  const log = (line: string) => sink.write(Buffer.from(`${line}\n`));
  // Started at once (not on a later tick), so a stop that follows start() reaches the task's listeners.
  const exited: Promise<ExitStatus> = (async () => task({ signal: controller.signal, log }))().then(
      () => ({ code: 0, signal: controller.signal.aborted ? ("SIGTERM" as const) : null }),
      (err: unknown) => {
        if (controller.signal.aborted) return { code: null, signal: "SIGTERM" as const };
        log(`failed: ${err instanceof Error ? err.message : String(err)}`);
        return { code: 1, signal: null };
      },
    );
  return {
    pid: process.pid,
    exited,
    signal: () => controller.abort(),
    killAll: () => controller.abort(),
  };
}
