import t from "tap";
import { createFakeSys, FakeExec } from "../../src/sys/fake.js";
import { MS, SysError, WNOHANG } from "../../src/sys/sys.js";

t.test("records every call with its arguments, in order", async (t) => {
  const sys = createFakeSys();
  sys.mount("proc", "/proc", "proc", MS.NOSUID);
  sys.sync();
  t.same(sys.calls, [
    { name: "mount", args: ["proc", "/proc", "proc", MS.NOSUID] },
    { name: "sync", args: [] },
  ]);
  t.same(sys.argsOf("mount"), [["proc", "/proc", "proc", MS.NOSUID]]);
});

t.test("fails a call with the errno it is told, only where the predicate holds", async (t) => {
  const sys = createFakeSys();
  sys.failOn("umount2", (target: string) => target === "/var", "EBUSY");
  sys.umount2("/run", 0);
  const err = t.throws(() => sys.umount2("/var", 0)) as SysError;
  t.ok(err instanceof SysError);
  t.equal(err.code, "EBUSY");
  t.equal(err.errno, 16);
  t.equal(sys.calls.length, 2, "the failed call is recorded too");
  sys.clearFailures();
  t.doesNotThrow(() => sys.umount2("/var", 0));
});

t.test("fails with EPERM when no code is given, and rejects unknown codes", async (t) => {
  const sys = createFakeSys();
  sys.failOn("reboot");
  t.match(t.throws(() => sys.reboot(0)), { code: "EPERM" });
  t.throws(() => sys.failOn("reboot", undefined, "ENOTACODE"), /unknown errno code ENOTACODE/);
});

t.test("answers getpid and waitpid by default and as told", async (t) => {
  const sys = createFakeSys({ pid: 4242 });
  t.equal(sys.getpid(), 4242);
  t.same(sys.waitpid(7, WNOHANG), { pid: 0, status: 0 });
  sys.respond("waitpid", (pid: number) => ({ pid, status: 7 << 8 }));
  t.same(sys.waitpid(7, WNOHANG), { pid: 7, status: 7 << 8 });
  t.equal(createFakeSys().getpid(), 1, "PID 1 unless told");
});

t.test("execve throws FakeExec carrying what would have run", async (t) => {
  const sys = createFakeSys();
  const err = t.throws(() => sys.execve("/sbin/init", ["/sbin/init"], ["A=1"])) as FakeExec;
  t.ok(err instanceof FakeExec);
  t.same([err.path, err.argv, err.env], ["/sbin/init", ["/sbin/init"], ["A=1"]]);
});

t.test("reads the real clock by default, records clock_settime, and echoes adjtimex's timex", async (t) => {
  const sys = createFakeSys();
  t.ok(Math.abs(Number(sys.clockGettime(0) / 1_000_000n) - Date.now()) < 1_000);
  sys.clockSettime(0, 5n);
  t.same(sys.argsOf("clockSettime"), [[0, 5n]]);
  const tx = { modes: 1, offset: 2, freq: 0, maxerror: 0, esterror: 0, status: 1, constant: 2 };
  t.same(sys.adjtimex(tx), { state: 0, timex: tx });
});
