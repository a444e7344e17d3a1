// The sandbox provisioner's host side against a stand-in machined
// (test/provision/fixtures/stub-machined.ts): PID 1 recorded and alive, the
// stable socket link, a clean environment, restart after reboot(2) on the
// same address, and destroy. Needs root; on CI its absence fails the test.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import t, { type Test } from "tap";
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../src/grpc/client.js";
import { bundle, entries } from "../../src/image/bundle.js";
import { repoRoot } from "../../src/image/paths.js";
import { createMachine, destroyMachine, listMachines, type MachineInfo } from "../../src/provision/index.js";
import { cmdline, isAlive } from "../../src/provision/sandbox/proc.js";
import { readRecord, stateLayout } from "../../src/provision/sandbox/state.js";
import { scratchDir } from "../fixtures/scratch.js";

const isRoot = process.getuid?.() === 0;
// Locally a non-root run skips; on CI a missing prerequisite fails, never skips.
const skip = !isRoot && process.env.CI !== "true" && "needs root (unshare, mount, pivot_root)";

/** True when the test may go on; fails it otherwise (CI without root). */
function needsRoot(t: Test): boolean {
  if (!isRoot) t.fail("needs root (unshare, mount, pivot_root)");
  return isRoot;
}

/** Temporary state, cache, dist and VM directories, through the environment, so no machine of this host is listed. */
function scratchEnv(t: Test): string {
  const dir = scratchDir("kiln-prov-");
  // The host-side bundles resolve koffi from node_modules above dist/.
  symlinkSync(join(repoRoot(), "node_modules"), join(dir, "node_modules"));
  const saved = { ...process.env };
  Object.assign(process.env, { KILN_STATE_DIR: join(dir, "state"), KILN_CACHE: join(dir, "cache"), KILN_DIST: join(dir, "dist"), KILN_VM_DIR: join(dir, "vms") });
  t.teardown(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Bundles the real stage 1 and host program, and the stub as machined. */
async function buildWithStub(dir: string): Promise<void> {
  // apid goes into the image too; the stub never starts it.
  const only = entries.filter((e) => ["stage1-sandbox.cjs", "sandbox-host.cjs", "apid.cjs", "config-worker.cjs"].includes(e.out));
  const stub = { src: "test/provision/fixtures/stub-machined.ts", out: "machined.cjs", format: "cjs", image: true, shebang: "#!/usr/bin/node" } as const;
  await bundle({ root: repoRoot(), outDir: join(dir, "dist"), only: [...only, stub], requireAll: true });
}

/** Polls until `fn` gives a value. */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = await Promise.resolve().then(fn).catch(() => undefined);
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs one call on a fresh client. */
async function call(m: MachineInfo, fn: (c: ReturnType<typeof client>) => Promise<unknown>): Promise<void> {
  const c = client(m);
  try {
    await fn(c);
  } finally {
    c.close();
  }
}

/** An insecure client for the machine's socket. */
function client(m: MachineInfo) {
  return createClient(MachineService, m.localEndpoint, credentials.createInsecure());
}

/** The Version tag machined answers with. */
async function versionTag(m: MachineInfo): Promise<string> {
  const c = client(m);
  try {
    return (await c.version({}, { timeoutMs: 2000 })).messages[0]!.tag;
  } finally {
    c.close();
  }
}

t.test("runs, reboots and destroys a sandbox around a stand-in machined", { skip }, async (t) => {
  if (!needsRoot(t)) return;
  const dir = scratchEnv(t);
  await buildWithStub(dir);
  const steps: string[] = [];
  const m = await createMachine({ name: "prov-stub", provisioner: "sandbox", timeoutMs: 30_000, onProgress: (s) => steps.push(s) });
  t.teardown(() => destroyMachine("prov-stub").catch(() => {}));
  t.same(steps, ["building rootfs", "starting", "waiting for API"]);
  const stateDir = join(dir, "state", "prov-stub");
  t.match(m.address, /^10\.213\.\d+\.\d+$/, "an address from the sandbox range");
  t.same(m, {
    name: "prov-stub",
    provisioner: "sandbox",
    endpoint: `${m.address}:50000`,
    localEndpoint: `unix://${stateDir}/machined.sock`,
    address: m.address,
    pid: m.pid,
    status: "running",
    stateDir,
    consoleLog: join(stateDir, "console.log"),
  });
  t.ok(cmdline(m.pid).includes("/sbin/init"), `PID 1 runs /sbin/init: ${cmdline(m.pid).join(" ")}`);
  t.equal(await versionTag(m), "stub boot 1");
  const env = JSON.parse(/env (\{.*\})/.exec(readFileSync(m.consoleLog, "utf8"))![1]!) as Record<string, string>;
  t.same(Object.keys(env).sort(), ["KILN_PLATFORM", "PATH"], "PID 1 gets a clean environment");

  await createMachine({ name: "prov-stub", provisioner: "sandbox" }).then(
    () => t.fail("a second create should fail"),
    (err: Error) => t.match(err.message, /a machine named "prov-stub" is already running/),
  );

  const lo = execFileSync("nsenter", ["-t", String(m.pid), "-n", "ip", "-o", "link", "show", "lo"], { encoding: "utf8" });
  t.match(lo, /<LOOPBACK,UP/, "loopback is up inside");

  const firstStart = readRecord(stateLayout("prov-stub"))!.pidOne!.start;
  await call(m, (c) => c.reboot({}, { timeoutMs: 2000 }));
  await waitFor("the sandbox to come back", async () => ((await versionTag(m)) === "stub boot 2" ? true : undefined));
  const [again] = await listMachines("prov-stub");
  t.notOk(isAlive({ pid: m.pid, start: firstStart }), "the old PID 1 is gone");
  t.match(again, { status: "running", endpoint: m.endpoint, localEndpoint: m.localEndpoint, address: m.address }, "running again, same endpoints and address");
  t.ok(again!.pid > 0 && cmdline(again!.pid).includes("/sbin/init"), "a new PID 1");
  t.equal(readRecord(stateLayout("prov-stub"))!.restarts.length, 1);

  await call(m, (c) => c.shutdown({}, { timeoutMs: 2000 }));
  const stopped = await waitFor("the machine to stop", async () => (await listMachines("prov-stub")).find((x) => x.status === "stopped"));
  t.match(stopped, { pid: 0, address: "", endpoint: "" }, "a stopped machine has given its address back");
  t.equal(readRecord(stateLayout("prov-stub"))!.stopReason, "powered off", "power off is not restarted");
  t.notOk(existsSync(join(stateDir, "machined.sock")), "socket link removed");

  const m2 = await createMachine({ name: "prov-stub", provisioner: "sandbox", timeoutMs: 30_000 });
  t.equal(await versionTag(m2), "stub boot 1", "create over a stopped machine starts afresh");
  const host = readRecord(stateLayout("prov-stub"))!.host;
  await destroyMachine("prov-stub");
  t.notOk(existsSync(stateDir), "state directory removed");
  t.notOk(isAlive(host), "host program gone");
  t.same(await listMachines(), []);
  await t.rejects(destroyMachine("prov-stub"), /no sandbox machine named "prov-stub"/);
});
