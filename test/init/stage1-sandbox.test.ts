import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { initEnv, stage1Sandbox } from "../../src/init/sandbox-root.js";
import { IMAGE_MOUNT_POINTS } from "../../src/init/mounts.js";
import { createFakeSys, FakeExec } from "../../src/sys/fake.js";
import { MNT, MS } from "../../src/sys/sys.js";
import { needsRoot } from "./needs-root.js";

const stage1 = new URL("../../src/init/stage1-sandbox.ts", import.meta.url).pathname;
const initScript = new URL("../fixtures/init/sandbox-init.cjs", import.meta.url).pathname;

/** Puts a host file (symlinks resolved) into the rootfs at the same path: a hard link, or a copy across filesystems. */
function include(root: string, path: string): void {
  mkdirSync(dirname(`${root}${path}`), { recursive: true });
  try {
    linkSync(realpathSync(path), `${root}${path}`);
  } catch {
    copyFileSync(path, `${root}${path}`);
  }
}

/** The shared libraries a binary needs, from ldd. */
function sharedLibs(binary: string): string[] {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1] as string);
}

/** A tiny rootfs: node, its libraries, the image's mount points and /sbin/init. */
function buildRootfs(base: string): string {
  const root = `${base}/rootfs`;
  for (const dir of IMAGE_MOUNT_POINTS) mkdirSync(`${root}${dir}`, { recursive: true });
  for (const file of ["/usr/bin/node", ...sharedLibs("/usr/bin/node")]) include(root, file);
  mkdirSync(`${root}/sbin`);
  copyFileSync(initScript, `${root}/sbin/init`);
  chmodSync(`${root}/sbin/init`, 0o755);
  return root;
}

/** Runs stage 1 the way the sandbox provisioner does. */
function runStage1(...args: string[]) {
  const unshare = ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net"];
  const cleanEnv = ["-i", `PATH=${process.env.PATH}`]; // tap's NODE_OPTIONS name files outside the rootfs
  return promisify(execFile)("env", [...cleanEnv, "unshare", ...unshare, process.execPath, "--import", "tsx", stage1, ...args]);
}

t.test("binds, remounts read-only, binds the volume, pivots and execs /sbin/init, in that order", async (t) => {
  const platformDir = mkdtempSync(join(tmpdir(), "kiln-plat-"));
  t.teardown(() => rmSync(platformDir, { recursive: true, force: true }));
  const sys = createFakeSys({ pid: 1 });
  const dirs: string[] = [];
  const err = t.throws(() => stage1Sandbox({ sys, rootfs: "/r", platformDir, env: { A: "1" }, chdir: (d) => dirs.push(d) }));
  t.ok(err instanceof Error && err.cause instanceof FakeExec, "ends in execve");
  t.same(sys.calls.filter((c) => c.name !== "getpid").map((c) => [c.name, ...c.args]), [
    ["mount", "none", "/", null, MS.REC | MS.PRIVATE],
    ["mount", "/r", "/r", null, MS.BIND | MS.REC],
    ["mount", "/r", "/r", null, MS.REMOUNT | MS.BIND | MS.RDONLY],
    ["mount", platformDir, "/r/mnt", null, MS.BIND | MS.REC],
    ["pivotRoot", ".", "."],
    ["umount2", ".", MNT.DETACH],
    ["execve", "/sbin/init", ["/sbin/init"], ["A=1", "KILN_PLATFORM=sandbox"]],
  ]);
  t.same(dirs, ["/r", "/"]);
});

t.test("passes our environment on with KILN_PLATFORM=sandbox replacing any other", async (t) => {
  t.same(initEnv({ PATH: "/bin", KILN_PLATFORM: "metal", GONE: undefined }), ["PATH=/bin", "KILN_PLATFORM=sandbox"]);
});

t.test("refuses to touch mounts unless it is PID 1", async (t) => {
  const sys = createFakeSys({ pid: 4242 });
  t.throws(() => stage1Sandbox({ sys, rootfs: "/r", platformDir: "/p", env: {} }), { message: "checking we are PID 1" });
  t.same(sys.argsOf("mount"), []);
});

t.test("as a program, says why it cannot run and exits non-zero", async (t) => {
  const run = promisify(execFile)(process.execPath, ["--import", "tsx", stage1, "/nonexistent-root", "/nonexistent-plat"]);
  await t.rejects(run, { code: 1, stderr: /^stage1-sandbox: checking we are PID 1: running as pid \d+; run under unshare/ });
  await t.rejects(promisify(execFile)(process.execPath, ["--import", "tsx", stage1]), { code: 2, stderr: /^usage: / });
});

t.test("really starts /sbin/init as PID 1 on a read-only root with the platform volume at /mnt", async (t) => {
  if (!needsRoot(t)) return;
  const base = mkdtempSync(join(tmpdir(), "kiln-stage1-"));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = buildRootfs(base);
  const plat = `${base}/platform`;
  mkdirSync(plat);
  writeFileSync(`${plat}/marker`, "");
  const { stdout } = await runStage1(root, plat);
  t.equal(stdout, "hello from init\n", "init kept stdout");
  t.same(JSON.parse(readFileSync(`${plat}/result.json`, "utf8")), {
    pid: 1,
    argv: ["/sbin/init"],
    rootWrite: "EROFS",
    mnt: ["marker", "state"],
    platform: "sandbox",
    cwd: "/",
    hostVisible: false,
  });
});

t.test("really fails with the reason when the rootfs is missing", async (t) => {
  if (!needsRoot(t)) return;
  const plat = mkdtempSync(join(tmpdir(), "kiln-plat-"));
  t.teardown(() => rmSync(plat, { recursive: true, force: true }));
  await t.rejects(runStage1("/nonexistent-kiln-root", plat), {
    code: 1,
    stderr: /^stage1-sandbox: binding \/nonexistent-kiln-root onto itself: mount\(\/nonexistent-kiln-root on \/nonexistent-kiln-root\): ENOENT/,
  });
});
