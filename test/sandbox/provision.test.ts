// End to end: `createMachine` with the real machined (bundled from the
// sources), the JSON contract `cluster create -o json` prints, PID 1 being
// /sbin/init, and `destroyMachine`. Needs root; on CI its absence fails.
import { existsSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { bundle, entries } from "../../src/image/bundle.js";
import { repoRoot } from "../../src/image/paths.js";
import { createMachine, destroyMachine, listMachines } from "../../src/provision/index.js";
import { cmdline, isAlive } from "../../src/provision/sandbox/proc.js";
import { readRecord, stateLayout } from "../../src/provision/sandbox/state.js";
import { scratchDir } from "../fixtures/scratch.js";

const isRoot = process.getuid?.() === 0;
// Locally a non-root run skips; on CI a missing prerequisite fails, never skips.
const skip = !isRoot && process.env.CI !== "true" && "needs root (unshare, mount, pivot_root)";

/** Temporary state, cache and dist directories, through the environment. */
function scratchEnv(t: Test): string {
  const dir = scratchDir("kiln-e2e-");
  symlinkSync(join(repoRoot(), "node_modules"), join(dir, "node_modules"));
  const saved = { ...process.env };
  Object.assign(process.env, { KILN_STATE_DIR: join(dir, "state"), KILN_DIST: join(dir, "dist") });
  t.teardown(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

t.test("creates a sandbox running machined as PID 1, reports it, and destroys it", { skip }, async (t) => {
  if (!isRoot) {
    t.fail("needs root (unshare, mount, pivot_root)");
    return;
  }
  const dir = scratchEnv(t);
  const only = entries.filter((e) => ["machined.cjs", "apid.cjs", "config-worker.cjs", "stage1-sandbox.cjs", "sandbox-host.cjs"].includes(e.out));
  await bundle({ root: repoRoot(), outDir: join(dir, "dist"), only, requireAll: true });

  const m = await createMachine({ name: "e2e-prov", provisioner: "sandbox", timeoutMs: 60_000 });
  t.teardown(() => destroyMachine("e2e-prov").catch(() => {}));
  const stateDir = join(dir, "state", "e2e-prov");
  t.same(JSON.parse(JSON.stringify(m)), {
    name: "e2e-prov",
    provisioner: "sandbox",
    endpoint: `${m.address}:50000`,
    localEndpoint: `unix://${stateDir}/machined.sock`,
    address: m.address,
    pid: m.pid,
    status: "running",
    stateDir,
    consoleLog: join(stateDir, "console.log"),
  }, "the MachineInfo contract, nothing more");
  t.match(m.address, /^10\.213\.\d+\.\d+$/, "an address from the sandbox range");
  t.ok(Number.isInteger(m.pid) && m.pid > 1, "pid is a host PID");
  t.ok(cmdline(m.pid).includes("/sbin/init"), `PID 1 is /sbin/init: ${cmdline(m.pid).join(" ")}`);
  t.equal(readlinkSync(`/proc/${m.pid}/exe`), "/usr/bin/node", "run by the image's node");
  t.same(await listMachines("e2e-prov"), [m]);

  const { host, pidOne } = readRecord(stateLayout("e2e-prov"))!;
  const steps: string[] = [];
  const t0 = Date.now();
  await destroyMachine("e2e-prov", { onProgress: (s) => steps.push(s) });
  t.comment(`destroyed in ${Date.now() - t0} ms: ${steps.join(", ")}`);
  t.same(steps, ["shutting down", "removing state"], "machined shut down over the API, no signals needed");
  t.notOk(existsSync(stateDir), "state directory removed");
  t.notOk(isAlive(pidOne), "PID 1 gone");
  t.notOk(isAlive(host), "host program gone");
  t.same(await listMachines("e2e-prov"), []);
});
