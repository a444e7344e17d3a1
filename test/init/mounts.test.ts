import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { checkTable, IMAGE_MOUNT_POINTS, type MountStep, mountAll, mountTable } from "../../src/init/mounts.js";
import { createFakeSys, type SysCall } from "../../src/sys/fake.js";
import { MS } from "../../src/sys/sys.js";
import { needsRoot } from "./needs-root.js";

/** MS flags as names, e.g. "nosuid,nodev". */
function flagNames(flags: number): string {
  const names = Object.entries(MS).filter(([, bit]) => flags & bit).map(([name]) => name.toLowerCase());
  return names.join(",") || "0";
}

/** One recorded call as a line, fstab-like for mounts. */
function line(c: SysCall): string {
  const a = c.args;
  if (c.name === "mount") return `mount ${a[0]} ${a[1]} ${a[2] ?? "-"} ${flagNames(a[3] as number)}${a[4] ? ` ${a[4]}` : ""}`;
  if (c.name === "mkdir" || c.name === "mknod") return `${c.name} ${a[0]} ${(a[1] as number).toString(8)}${c.name === "mknod" ? ` ${(a[2] as number).toString(16)}` : ""}`;
  return `${c.name} ${a.join(" ")}`;
}

const devCommon = [
  "symlink /proc/self/fd /dev/fd",
  "symlink /proc/self/fd/0 /dev/stdin",
  "symlink /proc/self/fd/1 /dev/stdout",
  "symlink /proc/self/fd/2 /dev/stderr",
  "mkdir /dev/pts 755",
  "mount devpts /dev/pts devpts nosuid,noexec newinstance,ptmxmode=0666,mode=0620",
  "symlink pts/ptmx /dev/ptmx",
  "mkdir /dev/shm 1777",
  "mount shm /dev/shm tmpfs nosuid,nodev mode=1777",
];

const afterDev = [
  "mount tmpfs /run tmpfs nosuid,nodev mode=0755",
  "mount tmpfs /tmp tmpfs nosuid,nodev mode=1777",
  "mount tmpfs /system tmpfs nosuid,nodev mode=0755",
  "mkdir /system/overlays 755",
  "mkdir /system/overlays/etc 755",
  "mkdir /system/overlays/etc/upper 755",
  "mkdir /system/overlays/etc/work 700",
  "mount overlay /etc overlay nosuid,nodev lowerdir=/etc,upperdir=/system/overlays/etc/upper,workdir=/system/overlays/etc/work",
  "mount tmpfs /var tmpfs nosuid,nodev mode=0755",
  "mkdir /system/state 700",
];

const early = [
  "mount proc /proc proc nosuid,nodev,noexec",
  "mount sysfs /sys sysfs nosuid,nodev,noexec",
  "mount cgroup2 /sys/fs/cgroup cgroup2 nosuid,nodev,noexec nsdelegate",
];

/** Runs a platform's table on the fake sys; returns the calls as lines. */
function run(platform: "metal" | "sandbox"): string[] {
  const sys = createFakeSys();
  mountAll(sys, mountTable(platform), () => {});
  return sys.calls.map(line);
}

t.test("mounts the metal table in order", async (t) => {
  t.same(run("metal"), [
    ...early,
    "mount devtmpfs /dev devtmpfs nosuid,noexec mode=0755",
    ...devCommon,
    ...afterDev,
    "mount tmpfs /system/state tmpfs nosuid,nodev,noexec mode=0700",
    "mount none / - rec,shared",
  ]);
});

t.test("mounts the sandbox table in order, with device nodes and the platform volume's state", async (t) => {
  t.same(run("sandbox"), [
    ...early,
    "mount tmpfs /dev tmpfs nosuid,noexec mode=0755",
    "mknod /dev/null 20666 103",
    "mknod /dev/zero 20666 105",
    "mknod /dev/full 20666 107",
    "mknod /dev/random 20666 108",
    "mknod /dev/urandom 20666 109",
    "mknod /dev/tty 20666 500",
    "mknod /dev/kmsg 20444 10b",
    ...devCommon,
    ...afterDev,
    "mount /mnt/state /system/state - bind,rec",
    "umount2 /mnt 2",
  ].concat("mount none / - rec,shared"));
});

t.test("every table mounts only on directories the image has or that it created", async (t) => {
  for (const platform of ["metal", "sandbox"] as const) {
    t.same(checkTable(mountTable(platform)), [], platform);
    const created = new Set(mountTable(platform).flatMap((s) => (s.t === "mkdir" ? [s.path] : [])));
    const targets = mountTable(platform).flatMap((s) => (s.t === "mount" && s.target !== "/" ? [s.target] : []));
    const unknown = targets.filter((p) => !created.has(p) && !IMAGE_MOUNT_POINTS.includes(p) && p !== "/sys/fs/cgroup");
    t.same(unknown, [], `${platform}: mount points outside the image's list`);
  }
});

t.test("refuses a table that would create something in the read-only image", async (t) => {
  const table: MountStep[] = [{ t: "mkdir", path: "/etc/kiln", mode: 0o755, on: "fatal" }];
  t.same(checkTable(table), ["creating directory /etc/kiln: not on a tmpfs this table mounted (the image is read-only)"]);
  const sys = createFakeSys();
  t.throws(() => mountAll(sys, table, () => {}), /bad mount table/);
  t.same(sys.calls, [], "nothing was done");
});

t.test("a fatal failure stops the table and keeps its cause", async (t) => {
  const sys = createFakeSys();
  sys.failOn("mount", (_s: string, target: string) => target === "/sys", "ENODEV");
  const err = t.throws(() => mountAll(sys, mountTable("metal"), () => {})) as Error;
  t.equal(err.message, "mounting /sys (sysfs)");
  t.match((err.cause as Error).message, /ENODEV/);
  t.equal(sys.argsOf("mount").length, 2, "nothing after /sys was tried");
});

t.test("a logged failure is reported and the table goes on; a silent one is not reported", async (t) => {
  const sys = createFakeSys();
  sys.failOn("mount", (_s: string, target: string) => target === "/", "EINVAL");
  sys.failOn("symlink", (_t: string, path: string) => path === "/dev/ptmx", "EEXIST");
  const logged: string[] = [];
  mountAll(sys, mountTable("metal"), (l) => logged.push(l));
  t.equal(sys.argsOf("mount").length, mountTable("metal").filter((s) => s.t === "mount").length, "every mount was tried");
  t.equal(logged.length, 1);
  t.match(logged[0], /^mounting \/ failed: mount\(none, \/, null, \d+\): EINVAL \(errno 22\)$/);
});

t.test("creates device nodes with exact modes and restores the umask", async (t) => {
  const before = process.umask();
  let during = -1;
  const sys = createFakeSys();
  sys.respond("mknod", () => {
    during = process.umask();
  });
  mountAll(sys, mountTable("sandbox"), () => {});
  t.equal(during, 0);
  t.equal(process.umask(), before);
});

t.test("really mounts the sandbox table on a read-only root, and unmountAll takes it all down", async (t) => {
  if (!needsRoot(t)) return;
  const base = mkdtempSync(join(tmpdir(), "kiln-mounts-"));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  mkdirSync(`${base}/volume/state`, { recursive: true });
  mkdirSync(`${base}/root`);
  const fixture = new URL("../fixtures/init/mount-table.ts", import.meta.url).pathname;
  const unshare = ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net"];
  const args = [...unshare, process.execPath, "--import", "tsx", fixture, `${base}/volume`, `${base}/root`];
  const report = JSON.parse((await promisify(execFile)("unshare", args)).stdout);
  t.same(report.logged, [], "nothing failed, not even a logged step");
  t.match(report.mounts, {
    "/proc": "proc",
    "/sys": "sysfs",
    "/sys/fs/cgroup": "cgroup2",
    "/dev": "tmpfs",
    "/dev/pts": "devpts",
    "/dev/shm": "tmpfs",
    "/run": "tmpfs",
    "/tmp": "tmpfs",
    "/system": "tmpfs",
    "/etc": "overlay",
    "/var": "tmpfs",
  });
  t.ok(report.mounts["/system/state"], "the volume's state is mounted");
  t.same(report.dev, { null: "c 666 1:3", zero: "c 666 1:5", full: "c 666 1:7", random: "c 666 1:8", urandom: "c 666 1:9", tty: "c 666 5:0", kmsg: "c 444 1:11" });
  t.same(report.links, [true, true, true, true, true], "fd, stdin, stdout, stderr, ptmx");
  t.equal(report.ptmx, true, "/dev/ptmx opens a pty of our devpts instance");
  t.same(report.etcUpper, ["kiln-probe"], "writes to /etc land in the tmpfs upper");
  t.equal(report.cgroup2, true);
  t.equal(report.tmpMode, "1777");
  t.same(report.mntAfterDetach, [], "/mnt is detached");
  t.equal(readFileSync(`${base}/volume/state/probe`, "utf8"), "persisted", "/system/state is the volume's state");
  t.same(report.leftAfterUnmount, ["/", "/proc"], "only / and the /proc remounted to look");
});
