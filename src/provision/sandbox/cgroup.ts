// Each sandbox's own cgroup subtree on the host, <cgroup2 mount>/kiln/<name>-<id>,
// which is the root of its cgroup namespace: inside, /sys/fs/cgroup shows that
// subtree only, so machined's /system/apid is a different cgroup in each
// machine and destroying one kills nothing of another. PID 1 lives in the
// leaf /init, as the no-internal-processes rule wants once the machine (its
// kubelet or runc) enables controllers at its root. Each boot starts from a
// fresh subtree; `cluster destroy` kills whatever is left in it and removes it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { sleep } from "./sleep.js";

/** The directory under the cgroup2 mount holding every sandbox's subtree. */
export const kilnCgroup = "kiln";

/** The leaf, relative to the subtree, that PID 1 lives in. */
export const initLeaf = "init";

/** The host's cgroup2 mount (root "/"), from mountinfo: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. */
export function cgroup2Mount(mountinfo = "/proc/self/mountinfo"): string | undefined {
  for (const line of readFileSync(mountinfo, "utf8").split("\n")) {
    const [mountFields, fsFields] = line.split(" - ");
    const [, , , root, mountPoint] = (mountFields ?? "").split(" ");
    if (fsFields?.split(" ")[0] === "cgroup2" && root === "/") return mountPoint;
  }
  return undefined;
}

/** Machine `name`'s subtree: <mount>/kiln/<name>-<8 hex of its state directory>, so state roots never share one. */
export function sandboxCgroup(mount: string, name: string, stateDir: string): string {
  const id = createHash("sha256").update(stateDir).digest("hex").slice(0, 8);
  return join(mount, kilnCgroup, `${name}-${id}`);
}

/** A sandbox's subtree and the host's cgroup2 mount it is under. */
export interface SandboxCgroup {
  mount: string;
  dir: string;
}

/** The subtree of the machine in `stateDir` on this host, or undefined when the host has no cgroup2 mount. */
export function hostCgroupOf(name: string, stateDir: string): SandboxCgroup | undefined {
  const mount = cgroup2Mount();
  return mount === undefined ? undefined : { mount, dir: sandboxCgroup(mount, name, stateDir) };
}

/**
 * A fresh subtree for one boot: what an earlier boot left is killed and
 * removed, every controller the mount's root offers is enabled on the way
 * down to it (the subtree's own subtree_control stays the machine's to set,
 * as a VM's root is), and <dir>/init is created.
 */
export async function freshCgroup(mount: string, dir: string, log: (message: string) => void): Promise<void> {
  await removeCgroup(dir);
  mkdirSync(join(dir, initLeaf), { recursive: true });
  delegateControllers(mount, dirname(dir), log);
}

/** Enables the root's controllers in the subtree_control of `mount` and each directory down to `parent`. */
function delegateControllers(mount: string, parent: string, log: (message: string) => void): void {
  const offered = readFileSync(join(mount, "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean);
  const dirs = [mount];
  for (const part of relative(mount, parent).split("/").filter(Boolean)) dirs.push(join(dirs.at(-1)!, part));
  for (const dir of dirs) {
    const enabled = new Set(readFileSync(join(dir, "cgroup.subtree_control"), "utf8").split(/\s+/));
    for (const c of offered.filter((c) => !enabled.has(c))) {
      try {
        writeFileSync(join(dir, "cgroup.subtree_control"), `+${c}`);
      } catch (err) {
        log(`enabling the ${c} controller in ${dir}: ${(err as Error).message}; the sandbox goes without it`);
      }
    }
  }
}

/** Runs `spawn` with this process in cgroup `dir`, so its child is born there, then moves back. */
export function bornIn<T>(mount: string, dir: string, spawn: () => T): T {
  const home = join(mount, ownCgroup());
  movePid(dir, 0);
  try {
    return spawn();
  } finally {
    movePid(home, 0);
  }
}

/** This process's cgroup2 path ("0::/path" in /proc/self/cgroup). */
function ownCgroup(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  if (!line) throw new Error("no cgroup2 entry in /proc/self/cgroup");
  return line.slice(3);
}

/** Moves process `pid` (0: the caller) into cgroup `dir`. */
export function movePid(dir: string, pid: number): void {
  try {
    writeFileSync(join(dir, "cgroup.procs"), String(pid));
  } catch (err) {
    const who = pid === 0 ? "the host program" : `pid ${pid}`;
    throw new Error(`moving ${who} into cgroup ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Kills every process in the subtree (cgroup.kill, else SIGKILL each), waits until it is empty and removes it. */
export async function removeCgroup(dir: string, timeoutMs = 5000): Promise<void> {
  if (!existsSync(dir)) return;
  killAll(dir);
  const deadline = Date.now() + timeoutMs;
  while (populated(dir)) {
    if (Date.now() > deadline) throw new Error(`cgroup ${dir} still has processes ${timeoutMs} ms after killing them`);
    await sleep(20);
    killAll(dir);
  }
  removeTree(dir);
}

/** One round of killing: cgroup.kill (Linux ≥ 5.14) takes the whole subtree; else SIGKILL each pid in it. */
function killAll(dir: string): void {
  if (existsSync(join(dir, "cgroup.kill"))) {
    writeFileSync(join(dir, "cgroup.kill"), "1");
    return;
  }
  for (const group of [dir, ...descendants(dir)]) {
    for (const pid of readFileSync(join(group, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
}

/** Whether any process is left in the subtree (cgroup.events' "populated"). */
function populated(dir: string): boolean {
  return /^populated 1$/m.test(readFileSync(join(dir, "cgroup.events"), "utf8"));
}

/** The cgroups below `dir`, deepest first. */
function descendants(dir: string): string[] {
  const children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return children.flatMap((e) => [...descendants(join(dir, e.name)), join(dir, e.name)]);
}

/** rmdir(2) of `dir` and each cgroup below it, deepest first (their interface files go with them). */
function removeTree(dir: string): void {
  for (const group of [...descendants(dir), dir]) {
    try {
      rmdirSync(group);
    } catch (err) {
      throw new Error(`removing cgroup ${group}: ${(err as Error).message}`, { cause: err });
    }
  }
}
