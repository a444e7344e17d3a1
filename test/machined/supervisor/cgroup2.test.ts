// Services in real cgroup2 cgroups. Needs root: the test re-runs itself
// under `unshare --mount` with a cgroup2 hierarchy mounted at a temp dir
// (private to that mount namespace). Without root it skips, except on CI
// (CI=true), where it fails: a missing prerequisite must not pass silently.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import { createLogStore } from "../../../src/machined/logs/log-store.js";
import type { ServiceStatus } from "../../../src/machined/service.js";
import { cgroupsAt, unusableReason } from "../../../src/machined/supervisor/cgroups.js";
import { processRunner } from "../../../src/machined/supervisor/process-runner.js";
import { createSupervisor } from "../../../src/machined/supervisor/supervisor.js";
import { alive, fixture, memorySink, tempDir, testContext, waitFor } from "../helpers.js";

/** Re-runs this file in a private mount namespace with cgroup2 mounted, or says why it cannot. */
function outside(): void {
  const why = cannotMount();
  if (why && process.env.CI === "true") t.fail(`cgroup2 tests cannot run on CI: ${why}`);
  else if (why) t.plan(0, `cgroup2 tests need ${why}`);
  else t.spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", MOUNT_AND_RUN, "sh", ...selfArgv()], {}, "in a cgroup2 mount");
}

/** Mounts cgroup2 at a temp dir, runs the command with KILN_TEST_CGROUP2 set, cleans up. */
const MOUNT_AND_RUN = `set -e
d=$(mktemp -d /tmp/kiln-cgroup2-XXXXXX)
mount -t cgroup2 cgroup2 "$d"
rc=0; KILN_TEST_CGROUP2="$d" "$@" || rc=$?
umount "$d"; rmdir "$d"; exit $rc`;

/** node with tsx, running this file. */
function selfArgv(): string[] {
  return [process.execPath, "--import=tsx", fileURLToPath(import.meta.url)];
}

/** Why this machine cannot run the test, or undefined. */
function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return "root (to mount cgroup2 in a private mount namespace)";
  try {
    execFileSync("unshare", ["--mount", "true"], { stdio: "ignore" });
  } catch (err) {
    return `unshare --mount to work (${(err as Error).message})`;
  }
  return undefined;
}

/** The tests proper, with cgroup2 mounted at `mount`. */
function inside(mount: string): void {
  const root = join(mount, `kiln-test-${process.pid}`);
  mkdirSync(root);
  t.teardown(() => cleanUp(mount, root));
  const ownCgroup = () => cgroupOf("self");

  t.test("sees the mount as usable cgroups", async (t) => {
    t.equal(unusableReason(root), undefined);
    t.equal(cgroupsAt(root).enabled, true);
  });

  t.test("a service is born in its own cgroup and machined moves back", async (t) => {
    const before = ownCgroup();
    const proc = processRunner(fixture("forever.js")).start(memorySink(), { id: "born", cgroupRoot: root });
    t.teardown(() => proc.killAll());
    const rel = root.slice(mount.length);
    t.equal(cgroupOf(proc.pid), `${rel}/system/born`);
    t.equal(ownCgroup(), before);
    t.same(cgroupsAt(root).pids("/system/born"), [proc.pid]);
  });

  t.test("stopping kills grandchildren that left the process group", async (t) => {
    const dir = tempDir(t);
    const logs = createLogStore({ dir: join(dir, "log") });
    const sup = createSupervisor({ context: testContext(dir, root), events: createEventBus(), logs });
    sup.register({ id: "parent", dependsOn: [], run: () => processRunner(fixture("spawn-grandchildren.js", "3", "own-session")), restart: "forever" });
    await sup.start("parent");
    await waitFor("grandchildren", () => logs.get("parent").tail(-1).includes("grandchildren"), 10_000);
    const { grandchildren } = JSON.parse(logs.get("parent").tail(1).toString()) as { grandchildren: number[] };
    t.ok(grandchildren.every(alive), "grandchildren run");
    t.equal(cgroupsAt(root).pids("/system/parent").length, 4, "all four in the service's cgroup");
    await sup.stop("parent");
    t.equal((sup.status()[0] as ServiceStatus).state, "Finished");
    await waitFor("grandchildren gone", () => !grandchildren.some(alive));
    await waitFor("an empty cgroup", () => cgroupsAt(root).pids("/system/parent").length === 0);
  });

  t.test("refuses to kill the cgroup machined itself is in", async (t) => {
    t.throws(() => cgroupsAt(mount).kill(cgroupOf("self")), /refusing to kill cgroup .*: machined is in it/);
  });
}

/** A process's cgroup2 path, from its "0::/path" line. */
function cgroupOf(pid: number | "self"): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.startsWith("0::"));
  return line?.slice(3) ?? "";
}

/** Kills whatever a failed test left in `root` (never this process), then removes it. */
async function cleanUp(mount: string, root: string): Promise<void> {
  if (cgroupOf("self").startsWith(root.slice(mount.length))) writeFileSync(join(mount, "cgroup.procs"), "0");
  writeFileSync(join(root, "cgroup.kill"), "1");
  await waitFor("the test cgroups to empty", () => readFileSync(join(root, "cgroup.events"), "utf8").includes("populated 0"));
  removeTree(root);
}

/** Removes a cgroup tree, leaves first (rmdir only works on empty cgroups). */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirDirs(dir)) removeTree(join(dir, entry));
  rmdirSync(dir);
}

/** Subdirectories (child cgroups) of a cgroup directory. */
function readdirDirs(dir: string): string[] {
  return execFileSync("find", [dir, "-mindepth", "1", "-maxdepth", "1", "-type", "d", "-printf", "%f\\n"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

const mounted = process.env.KILN_TEST_CGROUP2;
if (mounted) inside(mounted);
else outside();
