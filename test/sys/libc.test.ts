import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { createLibcSys, errnoName } from "../../src/sys/libc.js";
import { CLOCK, makedev, MNT, PR, S_IFCHR, SysError, WNOHANG } from "../../src/sys/sys.js";
import { needsRoot } from "../init/needs-root.js";

const sys = createLibcSys();
const fixture = (name: string) => new URL(`../fixtures/init/${name}`, import.meta.url).pathname;

/** The SysError a call throws, or a test failure. */
function sysErrorOf(fn: () => unknown): SysError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SysError) return err;
    throw err;
  }
  throw new Error("expected a SysError");
}

t.test("getpid is our pid", async (t) => {
  t.equal(sys.getpid(), process.pid);
});

t.test("prctl makes us a child subreaper", async (t) => {
  t.doesNotThrow(() => sys.prctl(PR.SET_CHILD_SUBREAPER, 1));
});

t.test("waitpid on a process that is not our child fails with ECHILD", async (t) => {
  const err = sysErrorOf(() => sys.waitpid(process.ppid, WNOHANG));
  t.equal(err.code, "ECHILD");
  t.equal(err.errno, 10);
  t.equal(err.call, "waitpid");
});

t.test("a failed mount names its target and errno", async (t) => {
  const err = sysErrorOf(() => sys.mount("tmpfs", "/nonexistent-kiln-target", "tmpfs", 0, "mode=0755"));
  t.ok(["ENOENT", "EPERM"].includes(err.code), err.message);
  t.match(err.message, /^mount\(tmpfs on \/nonexistent-kiln-target type tmpfs \(mode=0755\)\): E[A-Z]+ \(errno \d+\)$/);
});

t.test("kill of a pid that does not exist fails with ESRCH", async (t) => {
  t.equal(sysErrorOf(() => sys.kill(2 ** 22 + 1, 0)).code, "ESRCH");
});

t.test("mkdir and symlink create what they say, and EEXIST is an error", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-libc-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  sys.mkdir(`${dir}/sub`, 0o700);
  t.ok(statSync(`${dir}/sub`).isDirectory());
  t.equal(sysErrorOf(() => sys.mkdir(`${dir}/sub`, 0o700)).code, "EEXIST");
  sys.symlink("sub", `${dir}/link`);
  t.equal(readlinkSync(`${dir}/link`), "sub");
});

t.test("execve of a missing file fails with ENOENT and returns", async (t) => {
  const err = sysErrorOf(() => sys.execve("/nonexistent-kiln-init", ["x"], []));
  t.equal(err.code, "ENOENT");
  t.match(err.message, /execve\(\/nonexistent-kiln-init\)/);
});

t.test("execve passes argv and env as NULL-terminated string arrays", async (t) => {
  const out = spawnSync(process.execPath, ["--import", "tsx", fixture("exec-sh.ts")], { encoding: "utf8" });
  t.equal(out.stderr, "");
  t.equal(out.stdout, "argv0=kiln-sh first=one two GREETING=hello world\n");
  t.equal(out.status, 0);
});

t.test("errno names come from os.constants", async (t) => {
  t.equal(errnoName(2), "ENOENT");
  t.equal(errnoName(11), "EAGAIN");
  t.equal(errnoName(9999), "E9999");
});

t.test("umount2, pivot_root, finit_module and kexec_file_load report their errors", async (t) => {
  t.ok(["EINVAL", "ENOENT", "EPERM"].includes(sysErrorOf(() => sys.umount2("/nonexistent-kiln", MNT.DETACH)).code));
  t.ok(["ENOENT", "EPERM"].includes(sysErrorOf(() => sys.pivotRoot("/nonexistent-kiln", "/nonexistent-kiln")).code));
  // ENOSYS: a kernel built without module support, as on the development VMs
  t.ok(["EBADF", "EPERM", "ENOSYS"].includes(sysErrorOf(() => sys.finitModule(-1, "", 0)).code));
});

t.test("kexec_file_load runs on a worker thread and rejects with the errno that thread saw", async (t) => {
  const call = sys.kexecFileLoad(-1, -1, "", 0);
  t.ok(call instanceof Promise, "it answers with a promise: the event loop does not wait for the kernel");
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof SysError, `a SysError: ${String(err)}`);
  t.ok(["EBADF", "EPERM", "ENOSYS"].includes((err as SysError).code), `errno ${(err as SysError).code} for bad descriptors`);
});

t.test("mknod makes a character device with the given mode and numbers", async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "kiln-mknod-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const umask = process.umask(0);
  t.teardown(() => process.umask(umask));
  sys.mknod(`${dir}/null`, S_IFCHR | 0o666, makedev(1, 3));
  const st = statSync(`${dir}/null`);
  t.ok(st.isCharacterDevice());
  t.equal(st.mode & 0o777, 0o666);
  t.equal(st.rdev, makedev(1, 3));
  t.equal(readFileSync(`${dir}/null`, "utf8"), "", "reads like /dev/null");
});

t.test("unshare, sethostname and setns move between UTS namespaces", async (t) => {
  if (!needsRoot(t)) return;
  const out = spawnSync(process.execPath, ["--import", "tsx", fixture("namespaces.ts")], { encoding: "utf8" });
  t.equal(out.stderr, "");
  const seen = JSON.parse(out.stdout);
  t.equal(seen.inside, "kiln-ns-test");
  t.equal(seen.after, seen.before, "back in the host's namespace, its name untouched");
});

t.test("clock_gettime(CLOCK_REALTIME) agrees with Date.now, in nanoseconds", async (t) => {
  const ns = sys.clockGettime(CLOCK.REALTIME);
  t.equal(typeof ns, "bigint");
  t.ok(Math.abs(Number(ns / 1_000_000n) - Date.now()) < 1_000, `${ns}`);
});

t.test("clock_settime on CLOCK_MONOTONIC is refused with EINVAL, naming the clock", async (t) => {
  const err = sysErrorOf(() => sys.clockSettime(CLOCK.MONOTONIC, 1_000_000_000n));
  t.equal(err.code, "EINVAL");
  t.match(err.message, /^clock_settime\(clock 1, 1000000000 ns\): EINVAL/);
});

t.test("adjtimex with no modes reads the kernel's clock state and timex", async (t) => {
  const r = sys.adjtimex({ modes: 0, offset: 0, freq: 0, maxerror: 0, esterror: 0, status: 0, constant: 0 });
  t.ok(r.state >= 0 && r.state <= 5, `clock state ${r.state}`);
  t.ok(r.timex.maxerror >= 0, "maxerror filled in");
  t.ok(r.timex.constant >= 0 && r.timex.constant <= 10, `time constant ${r.timex.constant}`);
});
