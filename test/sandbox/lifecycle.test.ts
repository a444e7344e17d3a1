// The lifecycle's one lock against a real sandbox: the boot's timeline adds
// up, and an apply-config sent while a reboot stops services is refused
// naming the reboot. A reboot during boot is test/vm/lifecycle.test.ts's: a
// sandbox boots in ~150 ms, too fast to land a call in; a VM's boot can be
// held on a config URL.
import { rmSync, writeFileSync } from "node:fs";
import t from "tap";
import { alive, consoleTail, createSandbox, destroySandbox, kilnctl, kilnctlJson, type Sandbox, waitFor } from "./sandbox-helpers.js";

const name = "t-lifecycle";
let sb: Sandbox;

// A service that ignores SIGTERM: stopping it takes its whole grace period (3 s).
const config = (hostname: string) => `apiVersion: kiln/v1alpha1
kind: MachineConfig
machine:
  type: worker
  hostname: ${hostname}
  services:
    - id: stubborn
      command: ["/usr/bin/node", "-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1e9)"]
      stopGraceMs: 3000
`;

interface Timeline {
  runs: { sequence: string; durationMs?: number; result: string; phases: { name: string; startMs?: number; durationMs?: number; tasks: { name: string }[] }[] }[];
}

t.before(() => {
  sb = createSandbox(name, config("sbx-life"));
});
t.teardown(() => {
  destroySandbox(name);
});
t.afterEach((t) => {
  if (!t.passing()) t.comment(`console of ${name}:\n${consoleTail(sb, 80)}`);
});

const ctl = (...args: string[]) => kilnctl(["-e", sb.localEndpoint, ...args]);

/** Waits for a new PID 1 of the sandbox that answers on its socket. */
async function cameBack(oldPid: number): Promise<Sandbox> {
  return waitFor(
    "the machine to come back",
    () => {
      const m = kilnctlJson<Sandbox[]>(["cluster", "show", "--name", name])[0];
      return m && m.pid !== oldPid && alive(m.pid) && kilnctl(["-e", m.localEndpoint, "version"]).code === 0 ? m : undefined;
    },
    60_000,
    250,
  );
}

t.test("get sequences -o json lists boot's phases, whose durations add up to the boot's", async (t) => {
  await waitFor("the boot to end", () => {
    const tl = kilnctlJson<Timeline>(["-e", sb.localEndpoint, "get", "sequences", "-o", "json"]);
    return tl.runs[0]?.result === "ok" ? tl : undefined;
  });
  const tl = kilnctlJson<Timeline>(["-e", sb.localEndpoint, "get", "sequences", "-o", "json"]);
  const boot = tl.runs[0]!;
  t.equal(boot.sequence, "boot");
  t.same(
    boot.phases.map((p) => p.name),
    ["disks", "identity", "network", "api", "config", "networkApi", "install", "runtimeModules"],
  );
  t.ok(boot.phases.find((p) => p.name === "config")?.tasks.some((x) => x.name === "loadConfig"));
  const total = boot.durationMs ?? 0;
  const sum = boot.phases.reduce((n, p) => n + (p.durationMs ?? 0), 0);
  t.ok(total > 0, `the boot took ${total} ms`);
  t.ok(Math.abs(sum - total) <= Math.max(10, total * 0.1), `phases add up to ${sum} ms of the boot's ${total} ms`);
  const table = ctl("get", "sequences");
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /SEQUENCE\s+PHASE\s+TASK\s+START\s+DURATION\s+RESULT/);
  t.match(table.stdout, /boot\s+config\s+loadConfig\s+\d+\.\d{3}s\s+\d+\.\d{3}s\s+ok/);
});

t.test("an apply-config sent while a reboot stops services is refused, naming the reboot", async (t) => {
  const oldPid = sb.pid;
  const reboot = ctl("reboot");
  t.equal(reboot.code, 0, reboot.stderr);
  // The stubborn service holds the power-down for 3 s: the API still answers meanwhile.
  const file = `/tmp/kiln-life-${process.pid}.yaml`;
  writeFileSync(file, config("sbx-refused"));
  const r = ctl("apply-config", "-f", file);
  rmSync(file, { force: true });
  t.not(r.code, 0, "refused");
  t.match(r.stderr, /reboot \(requested through the API\) is running since \d\d:\d\d:\d\d; try again when it ends/);
  sb = await cameBack(oldPid);
  t.equal(kilnctlJson<{ hostname: string }>(["-e", sb.localEndpoint, "hostname"]).hostname, "sbx-life", "nothing of the refused config was applied");
});
