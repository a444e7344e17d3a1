// Parsing configs that callers send, off machined's event loop: the YAML
// parser and validation of a 250 KiB config take 0.4-1.4 s of CPU, nested
// flow maps far more per byte, and machined must keep answering everyone
// else meanwhile. One worker thread (started on first use, memory-capped),
// each parse with a deadline: past it the worker is ended, the caller gets
// `invalid` naming the deadline, and the next parse starts a new worker.
import { Worker } from "node:worker_threads";
import type { ParseResult } from "../config/parse.js";
import type { ParseRequest } from "../config/parse-worker.js";
import { invalid, type MachineError } from "./errors.js";

/** How long one parse may take. */
export const PARSE_DEADLINE_MS = 10_000;
/** The worker's heap: far above what a 256 KiB config needs, far below what would starve the machine. */
const WORKER_HEAP_MB = 256;

export interface ConfigParser {
  parse(text: string): Promise<ParseResult>;
  /** Ends the worker (pending parses fail). */
  close(): Promise<void>;
}

/** The worker's file: config-worker.cjs, bundled next to machined.cjs (src/image/bundle.ts). */
export function parseWorkerFile(): URL {
  return new URL("./config-worker.cjs", import.meta.url);
}

export function createConfigParser(o: { deadlineMs?: number; workerFile?: URL } = {}): ConfigParser {
  const deadlineMs = o.deadlineMs ?? PARSE_DEADLINE_MS;
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve(r: ParseResult): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  const start = (): Worker => {
    const w = new Worker(o.workerFile ?? parseWorkerFile(), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    w.on("message", (m: { id: number; result: ParseResult }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m.result);
    });
    w.on("error", (err) => failAll(tooCostly(`parsing the config failed: ${err.message}`, err)));
    w.on("exit", () => {
      if (worker === w) worker = undefined;
      failAll(tooCostly("the config parser stopped before it answered"));
    });
    return w;
  };
  return {
    parse: (text) =>
      new Promise<ParseResult>((resolve, reject) => {
        worker ??= start();
        const w = worker;
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(tooCostly(`the config took over ${deadlineMs / 1000} s to parse; nothing was changed: make it smaller or less deeply nested`));
          if (worker === w) worker = undefined;
          void w.terminate();
        }, deadlineMs);
        pending.set(id, { resolve, reject, timer });
        w.postMessage({ id, text } satisfies ParseRequest);
      }),
    close: async () => {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

function tooCostly(message: string, cause?: unknown): MachineError {
  return invalid(message, cause);
}
