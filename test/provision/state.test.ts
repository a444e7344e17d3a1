// The state directory: layout, machine.json, live status, listing, and the
// checks createMachine/destroyMachine make before touching anything.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { createMachine, destroyMachine, listMachines } from "../../src/provision/index.js";
import { liveInfo } from "../../src/provision/sandbox/live.js";
import { procRef } from "../../src/provision/sandbox/proc.js";
import { gateScript, sandboxArgv } from "../../src/provision/sandbox/run-sandbox.js";
import { type MachineRecord, machineNames, readRecord, stateLayout, stateRoot, toInfo, writeRecord } from "../../src/provision/sandbox/state.js";

/** A temporary $KILN_STATE_DIR for one test, and an empty $KILN_VM_DIR so no VM of this host is listed. */
function stateDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-state-"));
  const vms = mkdtempSync(join(tmpdir(), "kiln-vms-"));
  const before = { state: process.env.KILN_STATE_DIR, vms: process.env.KILN_VM_DIR };
  process.env.KILN_STATE_DIR = dir;
  process.env.KILN_VM_DIR = vms;
  t.teardown(() => {
    for (const [key, value] of [["KILN_STATE_DIR", before.state], ["KILN_VM_DIR", before.vms]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(vms, { recursive: true, force: true });
  });
  return dir;
}

/** A record for machine `name` under `root`. */
function record(name: string, root: string, change: Partial<MachineRecord> = {}): MachineRecord {
  const l = stateLayout(name, root);
  return {
    name,
    provisioner: "sandbox",
    endpoint: "",
    localEndpoint: `unix://${l.socket}`,
    address: "",
    pid: 0,
    status: "stopped",
    stateDir: l.dir,
    consoleLog: l.consoleLog,
    rootfs: "/cache/rootfs/abc",
    stage1: "/repo/dist/stage1-sandbox.cjs",
    restarts: [],
    ...change,
  };
}

/** Writes a record into a fresh state dir. */
function saveRecord(rec: MachineRecord, root: string): void {
  const l = stateLayout(rec.name, root);
  mkdirSync(l.platformState, { recursive: true });
  writeRecord(l, rec);
}

t.test("lays a machine out under $KILN_STATE_DIR (default /var/lib/kiln/sandboxes)", async (t) => {
  t.equal(stateRoot({}), "/var/lib/kiln/sandboxes");
  t.equal(stateRoot({ KILN_STATE_DIR: "/s" }), "/s");
  t.same(stateLayout("a", "/s"), {
    dir: "/s/a",
    record: "/s/a/machine.json",
    platform: "/s/a/platform",
    platformState: "/s/a/platform/state",
    config: "/s/a/platform/state/config.yaml",
    consoleLog: "/s/a/console.log",
    hostLog: "/s/a/host.log",
    socket: "/s/a/machined.sock",
  });
});

t.test("runs stage 1 under unshare with every namespace and a clean environment, behind the network gate", async (t) => {
  const argv = sandboxArgv({ rootfs: "/r", stage1: "/d/stage1-sandbox.cjs" }, stateLayout("a", "/s"));
  t.same(argv.slice(0, 9), ["unshare", "--net", "--cgroup", "--", "/bin/sh", "-c", gateScript, "kiln-net-gate", "unshare"]);
  t.same(argv.slice(9, 15), ["--pid", "--fork", "--mount", "--uts", "--ipc", "--kill-child"]);
  t.same(argv.slice(15, 17), ["env", "-i"]);
  t.same(argv.slice(-4), [process.execPath, "/d/stage1-sandbox.cjs", "/r", "/s/a/platform"]);
});

t.test("without a cgroup2 mount on the host the gate holds only the network namespace", async (t) => {
  const argv = sandboxArgv({ rootfs: "/r", stage1: "/d/stage1-sandbox.cjs" }, stateLayout("a", "/s"), false);
  t.same(argv.slice(0, 4), ["unshare", "--net", "--", "/bin/sh"]);
});

t.test("the gate execs the rest of the command once it reads a line, and runs nothing without one", async (t) => {
  const gate = (input: string) => spawnSync("/bin/sh", ["-c", gateScript, "kiln-net-gate", "echo", "booted"], { input, encoding: "utf8" });
  t.match(gate("boot\n"), { status: 0, stdout: "booted\n" });
  t.match(gate(""), { status: 1, stdout: "" });
});

t.test("machine.json round-trips; the public contract has exactly MachineInfo's keys", async (t) => {
  const root = stateDir(t);
  const rec = record("a", root, { pidOne: { pid: 5, start: 7 }, host: { pid: 4, start: 6 } });
  saveRecord(rec, root);
  t.same(readRecord(stateLayout("a", root)), rec);
  t.same(Object.keys(toInfo(rec)).sort(), ["address", "consoleLog", "endpoint", "localEndpoint", "name", "pid", "provisioner", "stateDir", "status"]);
  t.equal(readFileSync(stateLayout("a", root).record, "utf8").endsWith("}\n"), true);
});

t.test("a record from before sandboxes had a network still gives the whole contract", async (t) => {
  const root = stateDir(t);
  const { localEndpoint: _l, address: _a, ...old } = record("a", root, { endpoint: `unix://${root}/a/machined.sock` });
  t.match(toInfo(old as MachineRecord), { endpoint: "", localEndpoint: `unix://${root}/a/machined.sock`, address: "" });
});

t.test("a running machine shows its address and apid endpoint; a stopped one has none", async (t) => {
  const root = stateDir(t);
  const self = procRef(process.pid)!;
  const net = { endpoint: "10.213.0.6:50000", address: "10.213.0.6" };
  t.match(liveInfo(record("a", root, { ...net, status: "running", pidOne: self })), { ...net, status: "running" });
  t.match(liveInfo(record("a", root, { ...net, status: "running", pidOne: { pid: self.pid, start: self.start + 1 } })), {
    endpoint: "",
    address: "",
    status: "stopped",
  }, "the host program was killed: the address is no longer the machine's");
});

t.test("live status comes from /proc, not from the record", async (t) => {
  const root = stateDir(t);
  const self = procRef(process.pid)!;
  t.match(liveInfo(record("a", root, { status: "running", pid: 99, pidOne: { pid: self.pid, start: self.start + 1 } })), {
    status: "stopped",
    pid: 0,
  }, "a reused PID is not our PID 1");
  t.match(liveInfo(record("a", root, { status: "stopped", pid: self.pid, pidOne: self })), { status: "running", pid: self.pid });
  t.match(liveInfo(record("a", root, { status: "running", pid: 0, host: self })), { status: "running", pid: 0 }, "rebooting");
});

t.test("lists machines sorted, skipping directories without machine.json", async (t) => {
  const root = stateDir(t);
  saveRecord(record("b", root), root);
  saveRecord(record("a", root), root);
  mkdirSync(join(root, "junk"));
  t.same(machineNames(root), ["a", "b"]);
  t.same((await listMachines()).map((m) => [m.name, m.status, m.localEndpoint]), [
    ["a", "stopped", `unix://${root}/a/machined.sock`],
    ["b", "stopped", `unix://${root}/b/machined.sock`],
  ]);
  t.same(await listMachines("nope"), []);
  await t.rejects(listMachines("Bad"), /Expected the machine name/);
});

t.test("createMachine refuses bad names, other provisioners and a running machine of that name", async (t) => {
  const root = stateDir(t);
  await t.rejects(createMachine({ name: "No_Good", provisioner: "sandbox" }), /got "No_Good"/);
  await t.rejects(createMachine({ name: "a", provisioner: "lxc" as "sandbox" }), /Expected the provisioner to be one of sandbox, qemu, got "lxc"/);
  await t.rejects(createMachine({ name: "a", provisioner: "qemu" }), /the qemu provisioner needs --image DIR/);
  saveRecord(record("a", root, { status: "running", pid: process.pid, pidOne: procRef(process.pid) }), root);
  await t.rejects(createMachine({ name: "a", provisioner: "sandbox" }), /a machine named "a" is already running \(pid \d+/);
});

t.test("createMachine validates --config before creating anything", async (t) => {
  const root = stateDir(t);
  const cfg = join(root, "bad.yaml");
  writeFileSync(cfg, "apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  nope: 1\n");
  await t.rejects(createMachine({ name: "a", provisioner: "sandbox", configPath: cfg }), /the machine config .*bad\.yaml is invalid:\n/);
  await t.rejects(createMachine({ name: "a", provisioner: "sandbox", configPath: join(root, "missing.yaml") }), /reading the machine config/);
  t.notOk(existsSync(join(root, "a")), "no state directory");
});

t.test("destroyMachine of an unknown name is a clear error", async (t) => {
  const root = stateDir(t);
  await t.rejects(destroyMachine("ghost"), new RegExp(`no sandbox machine named "ghost" \\(no ${root}/ghost/machine.json`));
});

t.test("destroyMachine of a stopped machine removes its state directory", async (t) => {
  const root = stateDir(t);
  saveRecord(record("old", root), root);
  await destroyMachine("old");
  t.notOk(existsSync(join(root, "old")));
});
