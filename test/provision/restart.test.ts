// The reboot decision: SIGHUP from the kernel means "start me again".
import t from "tap";
import { afterExit, restartLimit } from "../../src/provision/sandbox/restart.js";

const ctx = { stopping: false, restarts: [], now: 1_000_000 };

t.test("restarts when PID 1 died of SIGHUP (reboot RESTART in a PID namespace)", async (t) => {
  t.same(afterExit({ code: null, signal: "SIGHUP" }, ctx), { t: "restart" });
});

t.test("stops when PID 1 powered off, was killed or exited", async (t) => {
  t.same(afterExit({ code: null, signal: "SIGINT" }, ctx), { t: "stop", reason: "powered off" });
  t.same(afterExit({ code: null, signal: "SIGKILL" }, ctx), { t: "stop", reason: "killed by SIGKILL" });
  t.same(afterExit({ code: null, signal: "SIGTERM" }, ctx), { t: "stop", reason: "killed by SIGTERM" });
  t.same(afterExit({ code: 1, signal: null }, ctx), { t: "stop", reason: "exited with code 1" });
  t.same(afterExit({ code: 0, signal: null }, ctx), { t: "stop", reason: "exited with code 0" });
});

t.test("stops, saying why, when PID 1 never started", async (t) => {
  const exit = { code: 1, signal: null, error: "setting up the network: ip on the host failed: RTNETLINK answers: File exists" };
  t.same(afterExit(exit, ctx), { t: "stop", reason: exit.error });
});

t.test("does not restart while a stop was asked for", async (t) => {
  t.same(afterExit({ code: null, signal: "SIGHUP" }, { ...ctx, stopping: true }), { t: "stop", reason: "rebooted while stopping" });
});

t.test("stops a reboot loop, counting only recent restarts", async (t) => {
  const recent = Array.from({ length: restartLimit.count }, (_, i) => ctx.now - 1000 * i);
  t.match(afterExit({ code: null, signal: "SIGHUP" }, { ...ctx, restarts: recent }), { t: "stop", reason: /rebooted 6 times within 60 s/ });
  const old = recent.map((x) => x - restartLimit.windowMs);
  t.same(afterExit({ code: null, signal: "SIGHUP" }, { ...ctx, restarts: old }), { t: "restart" });
});
