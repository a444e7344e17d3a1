import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

/** Runs kilnctl in-process with fake deps; out and err are what this run wrote. */
async function run(args: string[], deps = createFakeDeps()) {
  const [out0, err0] = [deps.out().length, deps.err().length];
  const code = await runCli(args, deps);
  return { code, out: deps.out().slice(out0), err: deps.err().slice(err0), deps };
}

/** A temp dir with the given files, removed after the test. */
async function files(t: { teardown(fn: () => unknown): void }, content: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kilnctl-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(content)) await writeFile(join(dir, name), text);
  return dir;
}

t.test("exits 2 with one line on stderr for an unknown option", async (t) => {
  const r = await run(["services", "--bogus"]);
  t.equal(r.code, 2);
  t.equal(r.err, "kilnctl: usage: unknown option '--bogus'\n");
});

t.test("exits 2 for an unknown command, suggesting a close one on the same line", async (t) => {
  const r = await run(["evnets"]);
  t.equal(r.code, 2);
  t.match(r.err, /^kilnctl: usage: unknown command 'evnets' \(Did you mean events\?\)\n$/);
});

t.test("exits 2 and says how to give an endpoint when there is none", async (t) => {
  const r = await run(["services"]);
  t.equal(r.code, 2);
  t.match(r.err, /^kilnctl: --endpoints: no machine API endpoint: pass -e .* or set KILN_ENDPOINT\n$/);
});

t.test("exits 2 for malformed flag values, naming the flag", async (t) => {
  const env = { KILN_ENDPOINT: "unix:///nonexistent.sock" };
  t.equal((await run(["--timeout", "soon", "version"], createFakeDeps({ env }))).err, 'kilnctl: --timeout: expected a duration such as 30s, 500ms or 1m30s, got "soon"\n');
  t.match((await run(["logs", "x", "--tail", "-3"], createFakeDeps({ env }))).code, 2);
  t.match((await run(["events", "--since-id", "x"], createFakeDeps({ env }))).err, /^kilnctl: --since-id: expected a whole number/);
  t.match((await run(["reboot", "--mode", "kexec"])).err, /^kilnctl: usage: option '--mode <mode>' argument 'kexec' is invalid/);
  t.match((await run(["services", "-o", "xml"])).code, 2);
  t.match((await run(["service", "containerd", "explode"], createFakeDeps({ env }))).err, /^kilnctl: service action "explode": expected one of status, start, stop, restart\n$/);
});

t.test("refuses --timeout on apply-config unless the mode is try", async (t) => {
  const r = await run(["-e", "/x.sock", "apply-config", "-f", "c.yaml", "--timeout", "1m"]);
  t.equal(r.code, 2);
  t.equal(r.err, "kilnctl: --timeout: applies only to --mode try\n");
});

t.test("prints help on stdout and exits 0", async (t) => {
  const r = await run(["--help"]);
  t.equal(r.code, 0);
  t.match(r.out, /Usage: kilnctl/);
  t.match((await run(["cluster", "create", "--help"])).out, /--wait-timeout/);
});

t.test("exits 2 with help when no command is given", async (t) => {
  const r = await run([]);
  t.equal(r.code, 2);
  t.match(r.err, /kilnctl: usage: a command is required/);
});

t.test("validate prints every error and warning and exits 1 when the config is invalid", async (t) => {
  const dir = await files(t, { "bad.yaml": "bad: 1\n" });
  const r = await run(["validate", "-f", join(dir, "bad.yaml")]);
  t.equal(r.code, 1);
  t.equal(r.out, "SEVERITY  PROBLEM\nerror     machine.type: required\nerror     bad: unknown key\nwarning   w1\n");
  t.equal(r.err, `kilnctl: validating ${join(dir, "bad.yaml")}: 2 errors\n`);
  const json = await run(["validate", "-f", join(dir, "bad.yaml"), "-o", "json"]);
  t.same(JSON.parse(json.out), { file: join(dir, "bad.yaml"), valid: false, errors: ["machine.type: required", "bad: unknown key"], warnings: ["w1"] });
});

t.test("validate says a good config is valid and exits 0", async (t) => {
  const dir = await files(t, { "ok.yaml": "machine: {}\n" });
  const r = await run(["validate", "-f", join(dir, "ok.yaml")]);
  t.equal(r.code, 0);
  t.equal(r.out, `${join(dir, "ok.yaml")}: valid\n`);
  t.same(JSON.parse((await run(["validate", "-f", join(dir, "ok.yaml"), "-o", "json"])).out).valid, true);
});

t.test("validate fails with one line when the file cannot be read", async (t) => {
  const r = await run(["validate", "-f", "/nonexistent/c.yaml"]);
  t.equal(r.code, 1);
  t.equal(r.err, "kilnctl: reading /nonexistent/c.yaml: no such file or directory\n");
});

t.test("cluster create -o json prints one object with name, provisioner, endpoint and pid", async (t) => {
  const r = await run(["cluster", "create", "--provisioner", "sandbox", "--name", "a", "-o", "json"]);
  t.equal(r.code, 0);
  t.match(JSON.parse(r.out), { name: "a", provisioner: "sandbox", endpoint: "unix:///var/lib/kiln/sandboxes/a/machined.sock", pid: 4242 });
  t.equal(r.err, "", "no progress when stderr is not a terminal");
});

t.test("cluster create passes the config as an absolute path and the wait timeout in ms", async (t) => {
  const r = await run(["cluster", "create", "--name", "a", "--config", "c.yaml", "--wait-timeout", "2m"]);
  t.match(r.deps.created[0], { name: "a", provisioner: "sandbox", configPath: resolve("c.yaml"), timeoutMs: 120_000 });
  t.match(r.out, /^NAME\s+PROVISIONER\s+STATUS\s+PID\s+ENDPOINT\na\s+sandbox\s+running\s+4242\s+unix:\/\/\//);
});

t.test("cluster create --provisioner qemu passes image, disk, memory and cpus; bad values are usage errors", async (t) => {
  const ok = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--image", "img", "--disk", "4G", "--memory", "1024", "--cpus", "1", "--config-via", "drive"]);
  t.match(ok.deps.created[0], { provisioner: "qemu", imageDir: resolve("img"), diskBytes: 4 * 2 ** 30, memoryMb: 1024, cpus: 1, configVia: "drive" });
  const disk = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--disk", "lots"]);
  t.equal(disk.code, 2);
  t.match(disk.err, /--disk: expected a size such as 4G or 512M, got "lots"/);
  const cpus = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--cpus", "0"]);
  t.equal(cpus.code, 2);
  t.match(cpus.err, /--cpus: expected a whole number ≥ 1, got "0"/);
  const url = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--config-url", "ftp://x/c.yaml"]);
  t.equal(url.code, 2);
  t.match(url.err, /--config-url: expected an http\(s\) URL/);
  const rtc = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--rtc-base", "2025-01-31"]);
  t.match(rtc.deps.created[0], { rtcBase: "2025-01-31" });
  const badRtc = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--rtc-base", "last year"]);
  t.equal(badRtc.code, 2);
  t.match(badRtc.err, /--rtc-base: expected utc, localtime or a date such as 2025-01-31 or 2025-01-31T12:00:00, got "last year"/);
  const sandbox = await run(["cluster", "create", "--name", "s", "--disk", "4G"]);
  t.equal(sandbox.code, 2);
  t.match(sandbox.err, /--disk: only the qemu provisioner takes it \(add --provisioner qemu\)/);
  const withControlPlane = await run(["cluster", "create", "--name", "s", "--control-plane", "/k8s"]);
  t.match(withControlPlane.deps.created[0], { controlPlane: "/k8s" }, "--control-plane: the sandbox adds the control plane's programs");
  const qemuControlPlane = await run(["cluster", "create", "--provisioner", "qemu", "--name", "v", "--control-plane", "/k8s"]);
  t.equal(qemuControlPlane.code, 2);
  t.match(qemuControlPlane.err, /--control-plane: only the sandbox provisioner takes it/);
});

t.test("cluster create shows progress on stderr when it is a terminal", async (t) => {
  const r = await run(["cluster", "create", "--name", "a", "-o", "json"], createFakeDeps({ tty: true }));
  t.equal(r.err, "kilnctl: starting…\n");
  t.match(JSON.parse(r.out), { name: "a" });
});

t.test("cluster create failures name the cluster and keep the cause on one line", async (t) => {
  const r = await run(["cluster", "create", "--name", "broken"]);
  t.equal(r.code, 1);
  t.equal(r.err, 'kilnctl: creating cluster "broken": starting the sandbox: unshare: permission denied\n');
});

t.test("cluster show lists machines as an array, and exits 3 for an unknown name", async (t) => {
  const deps = createFakeDeps();
  await run(["cluster", "create", "--name", "a"], deps);
  const r = await run(["cluster", "show", "-o", "json"], deps);
  t.match(JSON.parse(r.out), [{ name: "a", status: "running" }]);
  const missing = await run(["cluster", "show", "--name", "zz"]);
  t.equal(missing.code, 3);
  t.equal(missing.err, 'kilnctl: cluster "zz": not found\n');
});

t.test("cluster destroy removes a machine, and exits 3 for an unknown name", async (t) => {
  const deps = createFakeDeps();
  await run(["cluster", "create", "--name", "a"], deps);
  const r = await run(["cluster", "destroy", "--name", "a", "-o", "json"], deps);
  t.same(JSON.parse(r.out), { name: "a", destroyed: true });
  t.same(deps.machines, []);
  const again = await run(["cluster", "destroy", "--name", "a"], createFakeDeps());
  t.equal(again.code, 3);
  t.equal(again.err, 'kilnctl: cluster "a": not found\n');
});

t.test("a followed log ends with exit 0 when interrupted", async (t) => {
  const dir = await files(t, {});
  const machine = createFakeMachine();
  const api = await startMachineApi(machine, join(dir, "m.sock"), { node: () => "n", closeGraceMs: 100 });
  t.teardown(() => api.close());
  const deps = createFakeDeps();
  const running = runCli(["-e", join(dir, "m.sock"), "logs", "kubelet", "-f"], deps);
  await new Promise((r) => setTimeout(r, 300));
  machine.pushLog("kubelet", "hello\n");
  while (!deps.out().includes("hello")) await new Promise((r) => setTimeout(r, 10));
  deps.interrupt();
  t.equal(await running, 0);
  t.equal(deps.out(), "hello\n");
  t.equal(deps.err(), "");
});

t.test("apply-config refuses a config over 256 KiB before sending it, naming the limit and its size", async (t) => {
  const dir = await files(t, { "big.yaml": `# ${"c".repeat(1024 * 1024)}\n` });
  const machine = createFakeMachine();
  const socket = join(dir, "m.sock");
  const api = await startMachineApi(machine, socket, { node: () => "node-a", closeGraceMs: 100 });
  t.teardown(() => api.close());
  const r = await run(["-e", `unix://${socket}`, "apply-config", "-f", join(dir, "big.yaml"), "--dry-run"]);
  t.equal(r.code, 1);
  t.match(r.err, `the machine config is ${1024 * 1024 + 3} bytes; the limit is 262144 bytes (256 KiB)`);
  t.same(machine.applied, [], "nothing reached the machine");
  t.same(machine.calls, []);
});
