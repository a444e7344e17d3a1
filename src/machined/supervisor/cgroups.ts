// One cgroup (v2) per service, so that stopping a service kills everything it
// started. A child is born in its cgroup rather than moved there after
// spawn (which races with its first fork): machined moves itself into the
// service's cgroup, spawns, and moves itself back, all synchronously.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface Cgroups {
  /** False when services run without cgroups (no cgroup2 mount, or not root). */
  readonly enabled: boolean;
  /** Runs `fn` with machined inside cgroup `path` (created if needed), then moves it back. */
  within<T>(path: string, fn: () => T): T;
  /** Kills every process in cgroup `path`. */
  kill(path: string): void;
  /** The pids in cgroup `path` (empty if it does not exist). */
  pids(path: string): number[];
}

/** Services run as plain children: `within` just runs `fn`. */
export const noCgroups: Cgroups = {
  enabled: false,
  within: (_path, fn) => fn(),
  kill() {},
  pids: () => [],
};

const opened = new Map<string, Cgroups>();

/** The cgroups at `root`, detected once per root (the first caller's `warn` hears why they are off). */
export function cgroupsAt(root: string, warn: (msg: string) => void = defaultWarn): Cgroups {
  let cg = opened.get(root);
  if (cg) return cg;
  const why = unusableReason(root);
  if (why) warn(`services run without cgroups: ${why}; stopping a service kills its process group only`);
  cg = why ? noCgroups : cgroupV2(root);
  opened.set(root, cg);
  return cg;
}

/** Why `root` cannot hold service cgroups, or undefined when it can. */
export function unusableReason(root: string): string | undefined {
  try {
    if (!isCgroup2(root)) return `${root} is not a cgroup2 mount`;
    accessSync(join(root, "cgroup.procs"), constants.W_OK);
    return undefined;
  } catch (err) {
    return `${root} is not usable (${(err as Error).message})`;
  }
}

/** Writes machined's own diagnostics to its stderr (the console when PID 1). */
function defaultWarn(msg: string): void {
  process.stderr.write(`[kiln] ${msg}\n`);
}

/** cgroup2 control under `root` (a cgroup2 directory); `self` is /proc/self (for tests). */
export function cgroupV2(root: string, self = "/proc/self"): Cgroups {
  const dir = (path: string) => resolve(root, `./${path}`);
  const mount = mountOf(root);
  return {
    enabled: true,
    within: (path, fn) => within(dir(path), homeOf(mount, self), fn),
    kill: (path) => killGroup(dir(path), homeOf(mount, self)),
    pids: (path) => pidsIn(dir(path)),
  };
}

/** The top of the cgroup2 mount holding `dir`: the last ancestor still on cgroup2. */
function mountOf(dir: string): string {
  let top = resolve(dir);
  while (dirname(top) !== top && isCgroup2(dirname(top))) top = dirname(top);
  return top;
}

/** Whether `dir` is on a cgroup2 filesystem. */
function isCgroup2(dir: string): boolean {
  try {
    return statfsSync(dir).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** The cgroup directory machined is in now: /proc/self/cgroup's "0::/path" under the mount. */
function homeOf(mount: string, self: string): string {
  const line = readFileSync(join(self, "cgroup"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  if (!line) throw new Error(`no cgroup2 entry in ${join(self, "cgroup")}`);
  return resolve(mount, `.${line.slice(3)}`);
}

/** Moves the calling process into `target`, runs fn, and moves it back `home`. */
function within<T>(target: string, home: string, fn: () => T): T {
  mkdirSync(target, { recursive: true });
  move(target);
  try {
    return fn();
  } finally {
    move(home);
  }
}

/** Writes "0" (the writer itself) to a cgroup's cgroup.procs. */
function move(dir: string): void {
  try {
    writeFileSync(join(dir, "cgroup.procs"), "0");
  } catch (err) {
    throw new Error(`moving machined into cgroup ${dir}`, { cause: err });
  }
}

/** cgroup.kill (Linux ≥ 5.14), else SIGKILL each pid until none is left. */
function killGroup(dir: string, home: string): void {
  if (dir === home) throw new Error(`refusing to kill cgroup ${dir}: machined is in it`);
  if (!existsSync(dir)) return;
  if (existsSync(join(dir, "cgroup.kill"))) {
    writeFileSync(join(dir, "cgroup.kill"), "1");
    return;
  }
  for (let round = 0; round < 10; round++) {
    const pids = pidsIn(dir);
    if (pids.length === 0) return;
    for (const pid of pids) if (pid !== process.pid) killQuietly(pid);
  }
}

/** The pids listed in a cgroup's cgroup.procs. */
function pidsIn(dir: string): number[] {
  if (!existsSync(join(dir, "cgroup.procs"))) return [];
  return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
}

/** SIGKILL, ignoring a process that is already gone. */
function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}
