// Stage 1 on metal, run on the recording fake with a scratch directory as the
// initramfs: the sequence of calls, the step a failure names, freeing the
// initramfs, the module summary, the boot set's loader and what stage 1 hands
// to machined.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import type { ModuleLoader } from "../../src/init/boot-modules-worker.js";
import { describeError, freeInitramfs, type MetalHandoff, type MetalStage1Options, metalEnv, stage1Metal } from "../../src/init/metal-root.js";
import { type ModuleResult, type OpenedModule, summarizeModules } from "../../src/init/modules.js";
import { createFakeSys, type FakeSys, type SysCall } from "../../src/sys/fake.js";
import { MS } from "../../src/sys/sys.js";

const LOOP_CTL_GET_FREE = 0x4c82;
const LOOP_SET_FD = 0x4c00;
/** The free loop device the fake hands out. */
const LOOP_INDEX = 0;

/** A scratch directory removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-metal-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An initramfs as the image builder lays it out: node, a root module and two boot modules, a loop device, rootfs.sqsh and a new root with /sbin/init. */
function initramfs(t: Test): string {
  const root = scratch(t);
  for (const dir of ["proc", "sys", "dev", "etc/kiln", "lib/modules", "usr/bin", "newroot/sbin"]) mkdirSync(join(root, dir), { recursive: true });
  const [squashfs, ...boot] = ["squashfs.ko", "virtio_blk.ko", "ext4.ko"].map((m) => join(root, "lib/modules", m));
  for (const m of [squashfs, ...boot]) writeFileSync(m!, "not really a module\n");
  writeFileSync(join(root, "etc/kiln/root-modules"), `# the root's\n${squashfs}\n`);
  writeFileSync(join(root, "etc/kiln/modules"), `# boot set\n${boot.join("\n")}\n\n`);
  writeFileSync(join(root, "dev/loop-control"), "");
  writeFileSync(join(root, "dev/loop0"), "");
  writeFileSync(join(root, "rootfs.sqsh"), "squashfs image");
  writeFileSync(join(root, "usr/bin/node"), "node binary");
  symlinkSync("/usr/lib/kiln/machined.cjs", join(root, "newroot/sbin/init"));
  return root;
}

/** A fake that hands out loop0 and the directories chdir was asked for. */
function fake(opts: { pid?: number } = {}): { sys: FakeSys; dirs: string[] } {
  const sys = createFakeSys(opts);
  sys.respond("ioctl", (_fd: number, request: number) => (request === LOOP_CTL_GET_FREE ? LOOP_INDEX : 0));
  return { sys, dirs: [] };
}

/** Runs stage 1; returns what it hands to machined or the error it ends with, and the log. */
function run(sys: FakeSys, root: string, dirs: string[], env: NodeJS.ProcessEnv = {}, more: Partial<MetalStage1Options> = {}): { err?: Error; handoff?: MetalHandoff; log: string[] } {
  const log: string[] = [];
  try {
    return { handoff: stage1Metal({ sys, root, env, log: (l) => log.push(l), chdir: (d) => dirs.push(d), ...more }), log };
  } catch (err) {
    return { err: err as Error, log };
  }
}

/** MS flags as names, e.g. "rdonly,nodev". */
function flagNames(flags: number): string {
  return Object.entries(MS).filter(([, bit]) => flags & bit).map(([name]) => name.toLowerCase()).join(",") || "0";
}

/** One call as a line, the scratch root shown as R and file descriptors as "fd". */
function line(c: SysCall, root: string): string {
  const a = c.args.map((x) => (typeof x === "string" ? x.replaceAll(root, "R") : x));
  if (c.name === "mount") return `mount ${a[0]} ${a[1]} ${a[2] ?? "-"} ${flagNames(a[3] as number)}${a[4] ? ` ${a[4]}` : ""}`;
  if (c.name === "finitModule") return `finitModule fd "${a[1]}" ${a[2]}`;
  if (c.name === "ioctl") return `ioctl fd 0x${(a[1] as number).toString(16)} ${a[1] === LOOP_SET_FD ? "fd" : a[2]}`;
  return [c.name, ...a].join(" ");
}

t.test("mounts, loads the root's modules, then the boot set, loop-mounts rootfs.sqsh, moves it over / and hands over to /sbin/init", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  const { err, handoff, log } = run(sys, root, dirs, { console: "ttyS0" });
  t.equal(err, undefined);
  t.same(sys.calls.map((c) => line(c, root)), [
    "getpid",
    "mount proc R/proc proc nosuid,nodev,noexec",
    "mount sysfs R/sys sysfs nosuid,nodev,noexec",
    "mount devtmpfs R/dev devtmpfs nosuid mode=0755",
    'finitModule fd "" 0',
    // the default loader loads the boot set in place, as it is handed it
    'finitModule fd "" 0',
    'finitModule fd "" 0',
    "ioctl fd 0x4c82 0",
    "ioctl fd 0x4c00 fd",
    "mount R/dev/loop0 R/newroot squashfs rdonly,nodev",
    "mount R/usr/bin/node R/newroot/usr/bin/node - bind",
    "mount R/usr/bin/node R/newroot/usr/bin/node - rdonly,remount,bind",
    "umount2 R/proc 2",
    "umount2 R/sys 2",
    "umount2 R/dev 2",
    "mount . / - move",
    "chroot .",
  ]);
  t.same(dirs, [join(root, "newroot"), "/"], "chdir into the new root, then to / after chroot");
  t.equal(handoff?.init, "/sbin/init");
  t.ok(handoff?.env.includes("KILN_PLATFORM=metal"));
  t.ok(handoff?.env.includes("console=ttyS0"), "keeps the kernel's environment");
  t.same(await handoff?.bootModules, [
    { name: "virtio_blk", outcome: "loaded" },
    { name: "ext4", outcome: "loaded" },
  ]);
  t.equal(log[0], "stage1: root modules: 1/1 loaded");
  t.match(log[1], /^stage1: freed \d+\.\d MiB of initramfs$/);
});

/** A loader that records when stage 1 used it; `starts` says what started() answers. */
function recordingLoader(sys: FakeSys, starts = true): { loader: ModuleLoader; seen: string[]; handed: OpenedModule[] } {
  const seen: string[] = [];
  const handed: OpenedModule[] = [];
  const results: ModuleResult[] = [{ name: "from-the-loader", outcome: "loaded" }];
  const loader: ModuleLoader = {
    load(mods) {
      seen.push(`load after ${sys.calls.length} calls`);
      handed.push(...mods);
    },
    started(timeoutMs) {
      seen.push(`started(${timeoutMs}) after ${sys.calls.at(-1)?.name}`);
      return starts;
    },
    done: Promise.resolve(results),
  };
  return { loader, seen, handed };
}

t.test("the boot set's loader starts before the root's modules, is handed open descriptors, and is waited for before the initramfs goes", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  let createdAfter = -1;
  const rec = recordingLoader(sys);
  const { handoff } = run(sys, root, dirs, {}, {
    bootModuleLoader: () => {
      createdAfter = sys.calls.length;
      return rec.loader;
    },
  });
  t.equal(createdAfter, 4, "created after the PID check and the three mounts, before any module");
  t.same(rec.seen, ["load after 5 calls", "started(10000) after umount2"], "handed the boot set after the root's module; waited for just before the initramfs is freed");
  t.same(rec.handed.map((m) => [m.name, typeof m.fd]), [["virtio_blk", "number"], ["ext4", "number"]]);
  t.equal(sys.argsOf("finitModule").length, 1, "stage 1 itself loaded only the root's module");
  t.same(await handoff?.bootModules, [{ name: "from-the-loader", outcome: "loaded" }], "machined gets the loader's results");
});

t.test("a loader that never starts is logged, and the boot goes on", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  const rec = recordingLoader(sys, false);
  const { err, log } = run(sys, root, dirs, {}, { bootModuleLoader: () => rec.loader });
  t.equal(err, undefined);
  t.ok(log.includes("stage1: the boot modules' worker did not start in 10 s; machined's thread loads them"));
});

t.test("frees the initramfs but keeps the new root and node", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  run(sys, root, dirs);
  t.notOk(existsSync(join(root, "rootfs.sqsh")));
  t.notOk(existsSync(join(root, "etc")));
  t.ok(existsSync(join(root, "newroot/sbin")));
  t.equal(readFileSync(join(root, "usr/bin/node"), "utf8"), "node binary", "node stays: it is bound into the new root");
});

t.test("refuses to run as any pid but 1, touching nothing", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake({ pid: 42 });
  const { err } = run(sys, root, dirs);
  t.equal(err?.message, "checking we are PID 1");
  t.match(describeError(err), /running as pid 42/);
  t.same(sys.calls.map((c) => c.name), ["getpid"]);
  t.ok(existsSync(join(root, "rootfs.sqsh")));
});

t.test("a squashfs mount the kernel refuses names the step and the errno", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  sys.failOn("mount", (_src: string, _target: string, fstype: string | null) => fstype === "squashfs", "ENODEV");
  const { err } = run(sys, root, dirs);
  t.equal(err?.message, `mounting ${join(root, "dev/loop0")} (squashfs) on /newroot`);
  t.match(describeError(err), /mount\(.*\): ENODEV/);
  t.same(sys.argsOf("umount2"), [], "stops at the failing step");
  t.same(dirs, []);
});

t.test("a missing rootfs.sqsh fails attaching the loop device", async (t) => {
  const root = initramfs(t);
  rmSync(join(root, "rootfs.sqsh"));
  const { sys, dirs } = fake();
  const { err } = run(sys, root, dirs);
  t.equal(err?.message, "attaching /rootfs.sqsh to a loop device");
  t.match(describeError(err), /ENOENT.*rootfs\.sqsh/);
  t.same(sys.argsOf("ioctl").length, 1, "only LOOP_CTL_GET_FREE was asked");
});

t.test("a new root without /sbin/init says to rebuild the image", async (t) => {
  const root = initramfs(t);
  rmSync(join(root, "newroot/sbin/init"));
  const { sys, dirs } = fake();
  const { err } = run(sys, root, dirs);
  t.equal(err?.message, "checking /sbin/init in the new root");
  t.match(describeError(err), /rebuild the image/);
  t.ok(existsSync(join(root, "rootfs.sqsh")), "nothing freed");
});

t.test("a module that fails to load is reported and boot goes on", async (t) => {
  const root = initramfs(t);
  const { sys, dirs } = fake();
  sys.failOn("finitModule", undefined, "ENOEXEC");
  const { err, handoff, log } = run(sys, root, dirs);
  t.equal(err, undefined);
  t.match(log[0], /^stage1: root modules: 0\/1 loaded; failed: squashfs: .*ENOEXEC/);
  t.match(summarizeModules("boot modules", (await handoff?.bootModules) ?? []), /^boot modules: 0\/2 loaded; failed: virtio_blk: .*ENOEXEC.*; ext4: .*ENOEXEC/);
});

t.test("freeInitramfs deletes files and directories, keeps each of `keep`, returns the bytes freed", async (t) => {
  const root = scratch(t);
  const keepDir = join(root, "newroot");
  const keepFile = join(root, "a/node");
  mkdirSync(join(root, "a/b"), { recursive: true });
  mkdirSync(keepDir);
  writeFileSync(join(root, "top"), "x".repeat(1000));
  writeFileSync(join(root, "a/b/deep"), "y".repeat(24));
  writeFileSync(keepFile, "n".repeat(300));
  writeFileSync(join(keepDir, "kept"), "z".repeat(500));
  symlinkSync("newroot/kept", join(root, "link")); // 12 bytes; not followed
  t.equal(freeInitramfs(root, [keepDir, keepFile]), 1000 + 24 + "newroot/kept".length);
  t.equal(readFileSync(join(keepDir, "kept"), "utf8"), "z".repeat(500));
  t.equal(readFileSync(keepFile, "utf8"), "n".repeat(300), "a kept file keeps its directory too");
  for (const gone of ["top", "a/b", "link"]) t.notOk(existsSync(join(root, gone)), `${gone} deleted`);
});

t.test("summarizeModules counts present as loaded and lists each failure with why", async (t) => {
  t.equal(summarizeModules("boot modules", [{ name: "a", outcome: "loaded" }, { name: "b", outcome: "present" }]), "boot modules: 2/2 loaded");
  t.equal(
    summarizeModules("boot modules", [
      { name: "a", outcome: "loaded" },
      { name: "b", outcome: "failed", error: "bad" },
      { name: "c", outcome: "failed", error: "worse" },
    ]),
    "boot modules: 1/3 loaded; failed: b: bad; c: worse",
  );
  t.equal(summarizeModules("boot modules", []), "boot modules: 0/0 loaded");
});

t.test("metalEnv sets KILN_PLATFORM=metal once and keeps one PATH", async (t) => {
  const env = metalEnv({ KILN_PLATFORM: "sandbox", TERM: "linux", GONE: undefined });
  t.same(env.filter((kv) => kv.startsWith("KILN_PLATFORM=")), ["KILN_PLATFORM=metal"]);
  t.same(env.filter((kv) => kv.startsWith("PATH=")), ["PATH=/usr/bin:/usr/sbin"]);
  t.ok(env.includes("TERM=linux"));
  t.notOk(env.some((kv) => kv.startsWith("GONE=")), "unset variables are dropped");
  const withPath = metalEnv({ PATH: "/bin", KILN_PLATFORM: "metal" });
  t.same(withPath.filter((kv) => kv.startsWith("PATH=")), ["PATH=/bin"], "the kernel's PATH wins");
  t.same(withPath.filter((kv) => kv.startsWith("KILN_PLATFORM=")), ["KILN_PLATFORM=metal"]);
});
