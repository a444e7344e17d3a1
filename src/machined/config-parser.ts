// Parsing configs that callers send, off machined's event loop: the YAML
// parser and validation of a 250 KiB config take 0.4-1.4 s of CPU, nested
// flow maps far more per byte, and machined must keep answering everyone
// else meanwhile. One worker thread (started on first use, memory-capped),
// each parse with a deadline: past it the worker is ended, the caller gets
// `invalid` naming the deadline, and the next parse starts a new worker.
import { Worker } from "node:worker_threads";
import type { ParseResult } from "../config/parse.js";
import type { ParseRequest } from "../config/parse-worker.js";
import { invalid } from "./errors.js";

/** How long one parse may take. */
export const PARSE_DEADLINE_MS = 10_000;
/** The worker's heap: far above what a 256 KiB config needs, far below what would starve the machine. */
const WORKER_HEAP_MB = 256;
/**
 * The worker's stack, as small as the main thread's: nesting is refused when
 * the parser's recursion runs out of it. On a worker's default 4 MiB, flow
 * maps nested ~13,000 deep (in 54 KB) took the 256 MiB heap with them (the
 * fuzz tier's seed 1802071150); on 1 MiB the parser stops near 3,000.
 */
const WORKER_STACK_MB = 1;
/** A worker with nothing to parse for this long is ended: configs are rare, its memory is not free. */
export const PARSER_IDLE_MS = 30_000;

export interface ConfigParser {
  parse(text: string): Promise<ParseResult>;
  /** Whether a worker is running (one is started by a parse and ended once idle). */
  running(): boolean;
  /** Ends the worker (pending parses fail). */
  close(): Promise<void>;
}

/** The worker's file: config-worker.cjs, bundled next to machined.cjs (src/image/bundle.ts). */
export function parseWorkerFile(): URL {
  return new URL("./config-worker.cjs", import.meta.url);
}

/** A parse waiting for its answer. */
interface Pending {
  resolve(r: ParseResult): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** A worker and the parses it owes: when it ends, those fail, and no other worker's. */
interface Running {
  worker: Worker;
  pending: Map<number, Pending>;
}

export function createConfigParser(o: { deadlineMs?: number; idleMs?: number; workerFile?: URL } = {}): ConfigParser {
  const deadlineMs = o.deadlineMs ?? PARSE_DEADLINE_MS;
  let current: Running | undefined;
  let idle: NodeJS.Timeout | undefined;
  let nextId = 0;
  /** Ends `r` (if still current, no worker is current after); its parses fail with `err`. */
  const end = (r: Running, err: Error) => {
    if (current === r) current = undefined;
    for (const p of r.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    r.pending.clear();
    void r.worker.terminate();
  };
  const endWhenIdle = (r: Running) => {
    clearTimeout(idle);
    if (r.pending.size > 0 || current !== r) return;
    idle = setTimeout(() => {
      if (current === r && r.pending.size === 0) end(r, invalid("the config parser was idle"));
    }, o.idleMs ?? PARSER_IDLE_MS).unref();
  };
  const start = (): Running => {
    const worker = new Worker(o.workerFile ?? parseWorkerFile(), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, stackSizeMb: WORKER_STACK_MB } });
    const r: Running = { worker, pending: new Map() };
    worker.unref();
    worker.on("message", (m: { id: number; result: ParseResult }) => {
      const p = r.pending.get(m.id);
      if (!p) return;
      r.pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m.result);
      endWhenIdle(r);
    });
    worker.on("error", (err) => end(r, invalid(`parsing the config failed: ${err.message}`, err)));
    worker.on("exit", () => end(r, invalid("the config parser stopped before it answered")));
    return r;
  };
  return {
    parse: (text) =>
      new Promise<ParseResult>((resolve, reject) => {
        clearTimeout(idle);
        current ??= start();
        const r = current;
        const id = nextId++;
        const timer = setTimeout(() => {
          r.pending.delete(id);
          reject(invalid(`the config took over ${deadlineMs / 1000} s to parse; nothing was changed: make it smaller or less deeply nested`));
          end(r, invalid("the config parser was ended: another config took too long; apply this one again"));
        }, deadlineMs);
        r.pending.set(id, { resolve, reject, timer });
        r.worker.postMessage({ id, text } satisfies ParseRequest);
      }),
    running: () => current !== undefined,
    close: async () => {
      clearTimeout(idle);
      const r = current;
      current = undefined;
      if (r) {
        end(r, invalid("the config parser was closed"));
        await r.worker.terminate();
      }
    },
  };
}
