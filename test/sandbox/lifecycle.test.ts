// The lifecycle's one lock against a real sandbox: the boot's timeline adds
// up, and an apply-config sent while a reboot stops services is refused
// naming the reboot, and a reboot sent during boot preempts it and the
// machine comes back.
import { readFileSync, writeFileSync } from "node:fs";
import { credentials } from "@grpc/grpc-js";
import t from "tap";
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../src/grpc/client.js";
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
    ["disks", "identity", "network", "api", "config", "networkApi", "install"],
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
  t.not(r.code, 0, "refused");
  t.match(r.stderr, /reboot \(requested through the API\) is running since \d\d:\d\d:\d\d; try again when it ends/);
  sb = await cameBack(oldPid);
  t.equal(kilnctlJson<{ hostname: string }>(["-e", sb.localEndpoint, "hostname"]).hostname, "sbx-life", "nothing of the refused config was applied");
});

/** Calls Reboot on machined's socket the moment it answers (a fresh client each try, so no reconnect backoff). */
async function rebootAsSoonAsItAnswers(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = createClient(MachineService, endpoint, credentials.createInsecure());
    try {
      await client.reboot({}, { timeoutMs: 2_000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`machined did not answer within ${timeoutMs} ms`, { cause: err });
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The sandbox's PID 1 now. */
const pidNow = () => kilnctlJson<Sandbox[]>(["cluster", "show", "--name", name])[0]?.pid ?? 0;

t.test("a reboot sent during boot preempts it, and the machine comes back", async (t) => {
  // The machine API answers from boot's api phase on; the config and apid phases come after it.
  // Reboot, then send a second reboot the moment the new boot's socket answers.
  let preempted = false;
  for (let attempt = 1; attempt <= 5 && !preempted; attempt++) {
    const oldPid = sb.pid;
    const before = readFileSync(sb.consoleLog, "utf8").length;
    t.equal(ctl("reboot").code, 0, `attempt ${attempt}: the first reboot`);
    await waitFor("the old PID 1 to go", () => !alive(oldPid), 30_000, 10);
    await rebootAsSoonAsItAnswers(sb.localEndpoint, 30_000);
    const booting = pidNow();
    await waitFor("the interrupted boot's PID 1 to go", () => !alive(booting), 30_000, 20);
    sb = await cameBack(booting);
    preempted = readFileSync(sb.consoleLog, "utf8").slice(before).includes("boot: preempted by reboot");
  }
  t.ok(preempted, "a boot was preempted by the reboot");
  const tl = kilnctlJson<Timeline>(["-e", sb.localEndpoint, "get", "sequences", "-o", "json"]);
  t.equal(tl.runs[0]?.result, "ok", "the boot after it ran to its end");
  t.equal(kilnctlJson<{ hostname: string }>(["-e", sb.localEndpoint, "hostname"]).hostname, "sbx-life", "with its config");
});
