import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import { disableCtrlAltDel } from "../../src/init/signals.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { RB } from "../../src/sys/sys.js";
import { needsRoot } from "./needs-root.js";

const fixture = new URL("../fixtures/init/signals.ts", import.meta.url).pathname;

/** Runs the signals fixture; returns what its handlers saw and its stderr. */
async function runFixture(...args: string[]) {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", fixture, ...args]);
  return { seen: JSON.parse(stdout) as string[], stderr };
}

t.test("survives HUP, USR1, USR2, PIPE and uncaught errors, and maps TERM and INT to shutdown", async (t) => {
  const { seen, stderr } = await runFixture();
  t.same(seen, [
    "log ignoring SIGHUP",
    "log ignoring SIGUSR1",
    "log ignoring SIGUSR2",
    "fatal boom",
    "fatal rejected",
    "shutdown SIGTERM",
    "shutdown SIGINT",
  ]);
  t.notMatch(stderr, /Debugger listening/, "SIGUSR1 did not open Node's inspector");
});

t.test("maps SIGINT to reboot when it stands for ctrl-alt-del", async (t) => {
  const { seen } = await runFixture("cad");
  t.same(seen.slice(-2), ["shutdown SIGTERM", "reboot SIGINT (ctrl-alt-del)"]);
});

t.test("disables ctrl-alt-del only as PID 1, and says whether it could", async (t) => {
  const pid1 = createFakeSys({ pid: 1 });
  t.equal(disableCtrlAltDel(pid1), true);
  t.same(pid1.argsOf("reboot"), [[RB.DISABLE_CAD]]);

  const notPid1 = createFakeSys({ pid: 77 });
  t.equal(disableCtrlAltDel(notPid1), false);
  t.same(notPid1.argsOf("reboot"), [], "reboot(2) is never called outside PID 1");

  const childNamespace = createFakeSys({ pid: 1 });
  childNamespace.failOn("reboot", undefined, "EINVAL");
  t.equal(disableCtrlAltDel(childNamespace), false, "a child pid namespace says EINVAL");
});

t.test("PID 1 of a child pid namespace cannot disable ctrl-alt-del", async (t) => {
  if (!needsRoot(t)) return;
  const cad = new URL("../fixtures/init/cad.ts", import.meta.url).pathname;
  const { stdout } = await promisify(execFile)("unshare", ["--pid", "--fork", process.execPath, "--import", "tsx", cad]);
  t.same(JSON.parse(stdout), { pid: 1, disabled: false });
});
