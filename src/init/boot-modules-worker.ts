// Stage 1 loads the boot set on a worker thread of its own process, so that
// machined's bundle (which runs next on the main thread: stage1-metal.ts)
// loads while the kernel verifies and links the modules. On libuv's pool it
// would not: each finit_module's completion needs a turn of the event loop,
// which the bundle holds for its whole load. The worker starts first thing
// and runs stage 1's own script; the files it reads (that script, koffi) go
// with the initramfs, so the main thread waits for its word before freeing
// it. The descriptors are the main thread's; if the worker dies or never
// starts, the main thread loads what is left (what it loaded counts as
// present).
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createLibcSys } from "../sys/libc.js";
import type { Sys } from "../sys/sys.js";
import { closeModules, loadOpened, type ModuleResult, type OpenedModule } from "./modules.js";

/** Loads the boot set: `load` hands it the opened modules; `started` blocks until it no longer needs the initramfs's files (false: it never got there). */
export interface ModuleLoader {
  load(mods: OpenedModule[]): void;
  started(timeoutMs: number): boolean;
  done: Promise<ModuleResult[]>;
}

/** What the worker is started with: one Int32 it sets to 1 once its script and koffi are loaded. */
interface Work {
  kind: "kiln-boot-modules";
  ready: SharedArrayBuffer;
}

/** Loads on this thread, when `load` is called. */
export function loaderInPlace(sys: Sys): ModuleLoader {
  let settle: (r: ModuleResult[]) => void = () => undefined;
  const done = new Promise<ModuleResult[]>((resolve) => {
    settle = resolve;
  });
  return {
    load(mods) {
      settle(loadOpened(sys, mods));
      closeModules(mods);
    },
    started: () => true,
    done,
  };
}

/** Starts a worker running `script` (stage 1's file, which calls runModuleWorker first; with `evalScript`, code that does); it loads what `load` hands it. */
export function loaderOnWorker(sys: Sys, script: string, evalScript = false): ModuleLoader {
  const ready = new SharedArrayBuffer(4);
  const flag = new Int32Array(ready);
  const worker = new Worker(script, { eval: evalScript, workerData: { kind: "kiln-boot-modules", ready } satisfies Work, stdout: false, stderr: false });
  let mods: OpenedModule[] = [];
  const done = new Promise<ModuleResult[]>((resolve) => {
    let results: ModuleResult[] | undefined;
    worker.once("message", (r: ModuleResult[]) => {
      results = r;
    });
    worker.once("error", () => undefined);
    worker.once("exit", () => resolve(results ?? loadOpened(sys, mods)));
  }).finally(() => closeModules(mods));
  return {
    load(opened) {
      mods = opened;
      worker.postMessage(opened);
    },
    started(timeoutMs) {
      if (Atomics.wait(flag, 0, 0, timeoutMs) !== "timed-out") return true;
      void worker.terminate();
      return false;
    },
    done,
  };
}

/** In a worker started by loaderOnWorker: says it is ready, loads the modules it is handed, posts the results and ends; false on any other thread. */
export function runModuleWorker(): boolean {
  const work = workerData as Work | undefined;
  if (isMainThread || work?.kind !== "kiln-boot-modules" || !parentPort) return false;
  const port = parentPort;
  const sys = createLibcSys();
  const flag = new Int32Array(work.ready);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  port.once("message", (mods: OpenedModule[]) => {
    port.postMessage(loadOpened(sys, mods));
    port.close();
  });
  return true;
}
