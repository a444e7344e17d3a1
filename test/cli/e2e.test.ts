// kilnctl as a child process against a real machine API server (a fake Machine behind it).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { bundleKilnctl, type Run, repoRoot, startNode } from "./fixtures/kilnctl-process.js";

t.setTimeout(180_000);
const dir = await mkdtemp(join(tmpdir(), "kilnctl-e2e-"));
const bundle = await bundleKilnctl(dir);

/** Starts kilnctl; `done` resolves when it exits. */
function start(args: string[], env: Record<string, string> = {}) {
  return startNode(bundle, args, env);
}

/** Runs kilnctl to completion. */
function kilnctl(args: string[], env?: Record<string, string>): Promise<Run> {
  return start(args, env).done;
}

/** Resolves once `check` holds, polling. */
async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const socket = join(dir, "machined.sock");
const machine = createFakeMachine();
machine.pushEvent({ t: "machine", stage: "booting", message: "boot" });
machine.pushEvent({ t: "service", id: "containerd", state: "Running", message: "started", healthy: true, healthMessage: "ok" });
const api = await startMachineApi(machine, socket, { node: () => "node-a", closeGraceMs: 100 });
const e = `unix://${socket}`;
t.teardown(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

type Asserts = Pick<Test, "equal" | "match">;

/** Asserts a failed run: its exit code and exactly one line on stderr. */
function failed(t: Asserts, r: Run, code: number, line: string | RegExp): void {
  t.equal(r.code, code, "exit code");
  t.equal(r.stderr.split("\n").length, 2, "one line on stderr");
  t.match(r.stderr.trimEnd(), line);
  t.equal(r.stdout, "");
}

t.test("a closed stderr keeps the exit code: the failure is still 4 (unavailable), not a crash's 1", async (t) => {
  const shown = await kilnctl(["-e", "unix:///nonexistent.sock", "version"]);
  t.equal(shown.code, 4);
  const run = start(["-e", "unix:///nonexistent.sock", "version"]);
  run.child.stderr?.destroy();
  t.equal((await run.done).code, 4);
});

t.test("health --wait-timeout bounds the last round: a machine that never answers fails the check when the wait ends, not after --timeout", async (t) => {
  const hung = join(dir, "hung.sock");
  const never = () => new Promise<never>(() => {});
  const stuck = await startMachineApi({ ...createFakeMachine(), kubeconfig: never, services: () => [] }, hung, { node: () => "node-h", closeGraceMs: 100 });
  t.teardown(() => stuck.close());
  const t0 = Date.now();
  const r = await kilnctl(["-e", `unix://${hung}`, "health", "--wait-timeout", "2s", "--timeout", "120s"]);
  const tookS = (Date.now() - t0) / 1000;
  t.equal(r.code, 7, "unhealthy");
  t.match(r.stderr, /kilnctl: health: .*Kubernetes API.* did not hold within 2s/);
  t.ok(tookS < 60, `ended with the wait (${tookS.toFixed(1)} s), far before --timeout's 120 s`);
});

t.test("version -o json prints one object for the node", async (t) => {
  const r = await kilnctl(["-e", e, "version", "-o", "json"]);
  t.equal(r.code, 0);
  t.same(JSON.parse(r.stdout), {
    node: "node-a",
    tag: "0.1.0",
    nodeVersion: "v20.0.0",
    arch: "x64",
    platform: "sandbox",
    kernel: "6.1.0",
    maintenance: false,
    slot: "",
    bootMode: "",
    slots: [],
    server: { version: "0.1.0", slot: "" },
  });
});

t.test("services -o json prints an array with id, state and healthy", async (t) => {
  const r = await kilnctl(["-e", e, "services", "-o", "json"]);
  t.equal(r.code, 0);
  const list = JSON.parse(r.stdout);
  t.match(list, [
    { node: "node-a", id: "containerd", state: "Running", healthy: true, pid: 42, since: "2024-05-01T10:00:00.000Z" },
    { node: "node-a", id: "kubelet", state: "Waiting", healthy: null, dependsOn: ["containerd"] },
  ]);
});

t.test("services prints an aligned table with a NODE column", async (t) => {
  const r = await kilnctl(["services", "-e", e]);
  const lines = r.stdout.trimEnd().split("\n");
  t.match(lines[0], /^NODE\s+SERVICE\s+STATE\s+HEALTH\s+PID\s+RESTARTS\s+AGE\s+MESSAGE$/);
  t.match(lines[1], /^node-a\s+containerd\s+Running\s+OK\s+42\s+0\s+\S+\s+started$/);
  t.equal(lines[1]!.indexOf("Running"), lines[0]!.indexOf("STATE"));
  t.equal(lines[2]!.indexOf("?"), lines[0]!.indexOf("HEALTH"));
});

t.test("global options work before the command and from KILN_ENDPOINT", async (t) => {
  const r = await kilnctl(["-o", "yaml", "service"], { KILN_ENDPOINT: e });
  t.equal(r.code, 0);
  t.match(r.stdout, /^- node: node-a\n {2}id: containerd\n/);
});

t.test("service ID shows one service, and exits 3 for an unknown one", async (t) => {
  const r = await kilnctl(["-e", e, "service", "containerd", "-o", "json"]);
  t.match(JSON.parse(r.stdout), { id: "containerd", state: "Running", healthy: true });
  failed(t, await kilnctl(["-e", e, "service", "nope"]), 3, 'kilnctl: service "nope": not found');
});

t.test("service ID restart reports the machine's result, and exits 3 for an unknown one", async (t) => {
  const r = await kilnctl(["-e", e, "service", "kubelet", "restart", "-o", "json"]);
  t.same(JSON.parse(r.stdout), { node: "node-a", id: "kubelet", action: "restart", result: "service kubelet restarted" });
  t.ok(machine.calls.includes("restart kubelet"));
  failed(t, await kilnctl(["-e", e, "service", "nope", "stop"]), 3, 'kilnctl: service "nope": not found');
});

t.test("logs prints the raw tail in table output and JSON lines with -o json", async (t) => {
  t.equal((await kilnctl(["-e", e, "logs", "containerd", "--tail", "2"])).stdout, "line 2\nline 3\n");
  const json = await kilnctl(["-e", e, "logs", "containerd", "-o", "json"]);
  t.same(json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l)), [1, 2, 3].map((n) => ({ node: "node-a", line: `line ${n}` })));
  failed(t, await kilnctl(["-e", e, "logs", "nope"]), 3, 'kilnctl: logs of service "nope": not found');
});

t.test("logs -f streams new output until Ctrl-C and exits 0", async (t) => {
  const run = start(["-e", e, "logs", "kubelet", "-f"]);
  await new Promise((r) => setTimeout(r, 1500));
  machine.pushLog("kubelet", "fresh line\n");
  await eventually(() => run.stdout().includes("fresh line"));
  run.child.kill("SIGINT");
  const r = await run.done;
  t.equal(r.code, 0);
  t.equal(r.stderr, "");
  t.equal(r.stdout, "fresh line\n");
  await eventually(() => machine.aborted.includes("logs kubelet"));
});

t.test("events -o json prints one JSON object a line with its payload under its type", async (t) => {
  const r = await kilnctl(["-e", e, "events", "-o", "json"]);
  const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  t.match(events.slice(0, 2), [
    { node: "node-a", id: 1, type: "machine", machine: { stage: "booting", message: "boot" } },
    { node: "node-a", id: 2, type: "service", service: { id: "containerd", state: "Running", healthy: true } },
  ]);
  const since = await kilnctl(["-e", e, "events", "--since-id", "1", "-o", "json"]);
  t.equal(JSON.parse(since.stdout.split("\n")[0]!).id, 2);
  const table = await kilnctl(["-e", e, "events", "--tail", "1"]);
  t.match(table.stdout, /^NODE\s+ID\s+TIME\s+TYPE\s+EVENT\nnode-a\s+\d+\s+\S+Z\s+\w+\s+.+\n$/);
});

t.test("events -f streams new events until Ctrl-C and exits 0", async (t) => {
  const run = start(["-e", e, "events", "-f", "--tail", "0", "-o", "json"]);
  // An event published before kilnctl has subscribed is not sent (--tail 0): publish one every 500 ms until it arrives,
  // however long kilnctl takes to start on a loaded machine.
  const publish = () => machine.pushEvent({ t: "sequence", sequence: "reboot", phase: "", task: "", action: "start", error: "", durationMs: 0 });
  const timer = setInterval(publish, 500);
  try {
    await eventually(() => run.stdout().includes("reboot"), 60_000);
  } finally {
    clearInterval(timer);
  }
  run.child.kill("SIGINT");
  const r = await run.done;
  t.equal(r.code, 0);
  t.match(JSON.parse(r.stdout.split("\n")[0]!), { type: "sequence", sequence: { sequence: "reboot", action: "start" } });
});

t.test("reboot and shutdown pass mode and force and print what was requested", async (t) => {
  const r = await kilnctl(["-e", e, "reboot", "--mode", "powercycle", "--force", "-o", "json"]);
  t.same(JSON.parse(r.stdout), { node: "node-a", action: "reboot", mode: "powercycle", force: true });
  const s = await kilnctl(["-e", e, "shutdown", "-o", "yaml"]);
  t.equal(s.stdout, "node: node-a\naction: shutdown\nmode: \"\"\nforce: false\n");
  t.ok(machine.calls.includes("reboot powercycle true"));
  t.ok(machine.calls.includes("shutdown false"));
});

t.test("apply-config sends the file with its mode and try timeout and prints the outcome", async (t) => {
  const file = join(dir, "ok.yaml");
  await writeFile(file, "machine:\n  hostname: b\n");
  const r = await kilnctl(["-e", e, "apply-config", "-f", file, "--mode", "try", "--timeout", "2m", "--dry-run", "-o", "json"]);
  t.equal(r.code, 0);
  t.match(JSON.parse(r.stdout), { node: "node-a", mode: "try", changes: ["machine.hostname"], needsReboot: [], warnings: ["machine.env is empty"], dryRun: true });
  t.match(machine.applied.at(-1), { yaml: "machine:\n  hostname: b\n", mode: "try", dryRun: true, tryTimeoutMs: 120_000 });
  const table = await kilnctl(["-e", e, "apply-config", "-f", file]);
  t.match(table.stdout, /^NODE\s+MODE\s+CHANGES\s+NEEDS-REBOOT\s+DETAILS\nnode-a\s+no-reboot\s+machine.hostname\s+-\s+applied live/);
  t.equal(table.stderr, "kilnctl: warning: machine.env is empty\n");
});

t.test("apply-config of an invalid config exits 1 with every problem on one line", async (t) => {
  const file = join(dir, "bad.yaml");
  await writeFile(file, "invalid: 1\n");
  failed(t, await kilnctl(["-e", e, "apply-config", "-f", file]), 1,
    `kilnctl: applying ${file}: machine config is invalid: machine.hostname: expected a string, got 1; foo: unknown key`);
});

t.test("get config prints the YAML verbatim, parsed under -o json, and exits 3 in maintenance mode", async (t) => {
  machine.config = "machine:\n  hostname: fake # comment kept\n";
  t.equal((await kilnctl(["-e", e, "get", "config", "-o", "yaml"])).stdout, machine.config);
  t.equal((await kilnctl(["-e", e, "get", "machineconfig"])).stdout, `# node: node-a\n${machine.config}`);
  t.same(JSON.parse((await kilnctl(["-e", e, "get", "config", "-o", "json"])).stdout), { node: "node-a", config: { machine: { hostname: "fake" } } });
  machine.config = undefined;
  failed(t, await kilnctl(["-e", e, "get", "config"]), 3, "kilnctl: machine config: none applied (the machine is in maintenance mode)");
});

t.test("exits 4 naming the endpoint when there is no socket", async (t) => {
  failed(t, await kilnctl(["-e", "unix:///nonexistent/x.sock", "services"]), 4, "kilnctl: connecting to unix:///nonexistent/x.sock: no such socket");
});

t.test("exits 4 when nothing listens on the socket", async (t) => {
  const stale = join(dir, "stale.sock");
  const script = `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", script]);
  failed(t, await kilnctl(["-e", stale, "version"]), 4, `kilnctl: connecting to unix://${stale}: connection refused (is machined running?)`);
});

t.test("exits 5 when a call runs past --timeout", async (t) => {
  const reboot = machine.reboot;
  machine.reboot = () => new Promise((r) => setTimeout(r, 3000));
  t.teardown(() => {
    machine.reboot = reboot;
  });
  failed(t, await kilnctl(["-e", e, "--timeout", "300ms", "reboot"]), 5, "kilnctl: rebooting: timed out after 300ms");
});

t.test("bin/kilnctl.js launches kilnctl (the bundle in dist/, else the source through tsx)", async (t) => {
  const r = await startNode(join(repoRoot, "bin/kilnctl.js"), ["-e", e, "version", "-o", "json"]).done;
  t.equal(r.code, 0);
  t.equal(JSON.parse(r.stdout).node, "node-a");
});
