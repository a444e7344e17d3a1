// A runner for work machined does itself (a controller loop, not a program):
// the task runs in machined's process until it settles or is stopped. Its pid
// is machined's own; SIGTERM and killAll abort its signal, and it must then
// settle. A task that throws exits 1 with its message in the service's log.
import type { ExitStatus, LogSink, Runner } from "../service.js";

/** Runs `task(log, signal)` as one instance of a service. */
export function taskRunner(task: (log: (line: string) => void, signal: AbortSignal) => Promise<void>): Runner {
  return {
    start: (sink: LogSink) => {
      const ac = new AbortController();
      const log = (line: string) => sink.write(Buffer.from(`${line}\n`));
      // Started at once (not on a later tick): a stop right after start reaches it.
      const exited: Promise<ExitStatus> = (async () => task(log, ac.signal))().then(
        () => (ac.signal.aborted ? { code: null, signal: "SIGTERM" } : { code: 0, signal: null }),
        (err: unknown) => {
          if (ac.signal.aborted) return { code: null, signal: "SIGTERM" };
          log(err instanceof Error ? err.message : String(err));
          return { code: 1, signal: null };
        },
      );
      return { pid: process.pid, exited, signal: () => ac.abort(), killAll: () => ac.abort() };
    },
  };
}
