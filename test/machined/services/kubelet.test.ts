// The kubelet service definition: skipped where the image has no kubelet;
// its flags follow the version the image builder recorded, never a probe.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { kubelet } from "../../../src/machined/services/kubelet.js";
import { configOf, worker } from "../../config/fixtures.js";
import { memorySink, tempDir, testContext } from "../helpers.js";

t.test("is skipped, saying where it looked, when the image has no kubelet binary", async (t) => {
  const dir = tempDir(t);
  t.equal(kubelet.skip?.(testContext(dir)), `no kubelet binary in the image (${join(dir, "bin", "kubelet")})`);
});

t.test("is not skipped when the kubelet binary is there", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "kubelet"), "", { mode: 0o755 });
  t.equal(kubelet.skip?.(testContext(dir)), undefined);
});

t.test("depends on containerd, restarts forever and checks kubelet's healthz", async (t) => {
  t.equal(kubelet.id, "kubelet");
  t.same(kubelet.dependsOn, ["containerd"]);
  t.equal(kubelet.restart, "forever");
  t.equal(kubelet.health?.initialDelayMs, 2000);
  t.equal(kubelet.health?.intervalMs, 5000);
});

t.test("waits for the runtime kernel modules (netfilter for its iptables rules) and a network address (its node IP), and stops waiting when aborted", async (t) => {
  t.same(kubelet.conditions?.map((c) => c.describe), ["the runtime kernel modules and sysctls", "a network address (not loopback or link-local)"]);
  const [modules] = kubelet.conditions!;
  let loaded = () => {};
  const m = { ...testContext(tempDir(t)), runtimeModules: new Promise<void>((r) => { loaded = r; }) };
  let done = false;
  const waiting = modules!.wait(m, new AbortController().signal).then(() => { done = true; });
  await new Promise((r) => setTimeout(r, 20));
  t.equal(done, false, "still waiting while machined loads them");
  loaded();
  await waiting;
  t.equal(done, true, "goes on once they are loaded");
  const abort = new AbortController();
  const never = modules!.wait({ ...m, runtimeModules: new Promise<void>(() => {}) }, abort.signal);
  abort.abort(new Error("stopping"));
  await t.rejects(never, /stopping/);
});

t.test("takes its version from components.json and never runs `kubelet --version`", async (t) => {
  for (const [components, runtimeFlag] of [['{"kubernetes":"v1.20.2","kubernetesPrograms":["kubelet"]}', true], ['{"kubernetes":"v1.29.1","kubernetesPrograms":["kubelet"]}', false], [undefined, false]] as const) {
    const dir = tempDir(t);
    mkdirSync(join(dir, "bin"));
    // A stand-in kubelet that logs every argv it is started with.
    const calls = join(dir, "calls");
    writeFileSync(join(dir, "bin", "kubelet"), `#!${process.execPath}\nrequire("fs").appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + "\\n");\n`, { mode: 0o755 });
    if (components) writeFileSync(join(dir, "components.json"), components);
    const m = { ...testContext(dir), config: configOf(worker({})) };
    const run = kubelet.run(m).start(memorySink(), { id: "kubelet", cgroupRoot: join(dir, "cgroup") });
    t.same(await run.exited, { code: 0, signal: null });
    const argv = readFileSync(calls, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]);
    t.equal(argv.length, 1, `${components ?? "no components.json"}: started once, never probed`);
    t.equal(argv[0]!.includes("--container-runtime=remote"), runtimeFlag, `${components ?? "no components.json"}: --container-runtime=remote only before 1.27`);
  }
});
