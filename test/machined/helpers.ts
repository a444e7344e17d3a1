// Shared test helpers: fixture programs, a machine context over a temp
// directory, a controllable fake runner, and polling.
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Sys } from "../../src/sys/sys.js";
import type { ExitStatus, LogSink, MachineContext, RunningProcess, Runner } from "../../src/machined/service.js";

/** argv running test/fixtures/services/<name> with node. */
export function fixture(name: string, ...args: string[]): string[] {
  return [process.execPath, fileURLToPath(new URL(`../fixtures/services/${name}`, import.meta.url)), ...args];
}

/** What helpers need of a tap test: somewhere to register cleanup. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A temp directory removed at teardown. */
export function tempDir(t: Teardown, prefix = "kiln-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A machine context whose paths live under `dir` (no cgroup2 there unless given). */
export function testContext(dir: string, cgroupRoot = join(dir, "cgroup")): MachineContext {
  const paths = {
    bin: (name: string) => join(dir, "bin", name),
    run: (id: string) => join(dir, "run", id),
    apiSocket: join(dir, "machine.sock"),
    state: join(dir, "state"),
    logDir: join(dir, "log"),
    cgroupRoot,
    components: join(dir, "components.json"),
    imageCache: join(dir, "images"),
  };
  return { paths, platform: "sandbox", sys: {} as Sys, config: undefined, env: {}, runtimeModules: Promise.resolve() };
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls `cond` every 10 ms until it holds, failing after `ms`. */
export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sink keeping everything written to it. */
export function memorySink(): LogSink & { text(): string } {
  const chunks: Buffer[] = [];
  return { write: (c) => void chunks.push(Buffer.from(c)), text: () => Buffer.concat(chunks).toString() };
}

/** One start of a fake runner: the test decides when and how it exits. */
export interface FakeRun extends RunningProcess {
  signals: string[];
  killedAll: boolean;
  exit(status: Partial<ExitStatus>): void;
}

/** A Runner whose processes exit only when told (or on TERM, unless ignoreTerm). */
export function fakeRunner(opts: { ignoreTerm?: boolean; onStart?: (run: FakeRun) => void } = {}) {
  const runs: FakeRun[] = [];
  const runner: Runner = {
    start() {
      let resolve!: (s: ExitStatus) => void;
      const exited = new Promise<ExitStatus>((r) => (resolve = r));
      const run: FakeRun = {
        pid: 1000 + runs.length,
        exited,
        signals: [],
        killedAll: false,
        exit: (s) => resolve({ code: s.code ?? null, signal: s.signal ?? null }),
        signal(sig) {
          run.signals.push(sig);
          if (sig === "SIGTERM" && !opts.ignoreTerm) run.exit({ signal: "SIGTERM" });
        },
        killAll() {
          run.killedAll = true;
          run.exit({ signal: "SIGKILL" });
        },
      };
      runs.push(run);
      opts.onStart?.(run);
      return run;
    },
  };
  return { runner, runs, last: () => runs[runs.length - 1]! };
}

/** Whether a pid is alive: it exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/** Whether this host lets us read its kernel log. */
export function kmsgReadable(): boolean {
  try {
    accessSync("/dev/kmsg", constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
