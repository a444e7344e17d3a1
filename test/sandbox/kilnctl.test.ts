// kilnctl end to end over mTLS against a real sandbox: every command, its
// -o json shape, and its exit code on failure.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { consoleTail, createSandbox, destroySandbox, kilnctl, type Ran, type Sandbox, services, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-e2e-");
const name = "t-kilnctl";
const kilnconfig = join(dir, "kilnconfig");
let sb: Sandbox;

/** kilnctl with the generated kilnconfig (its context's endpoint points at the sandbox). */
const ctl = (args: string[], env: NodeJS.ProcessEnv = {}): Ran => kilnctl(args, { KILNCONFIG: kilnconfig, ...env });
/** Runs with -o json, expects exit 0, parses stdout. */
const json = <T>(...args: string[]): T => {
  const r = ctl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kilnctl ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
/** Newline-delimited JSON (streams: logs, events, dmesg, list with -o json). */
const lines = (...args: string[]) => {
  const r = ctl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kilnctl ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
};

t.before(async () => {
  const g = kilnctl(["gen", "config", "--name", "e2e", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  const worker = readFileSync(join(dir, "standalone.yaml"), "utf8").replace(/^machine:\n/m, "machine:\n  hostname: e2e-one\n");
  writeFileSync(join(dir, "standalone.yaml"), worker);
  sb = createSandbox(name, worker);
  const e = ctl(["config", "endpoint", sb.endpoint]);
  if (e.code !== 0) throw new Error(e.stderr);
  await waitFor("apid over mTLS", () => ctl(["version"]).code === 0, 30_000, 250);
});
t.teardown(() => {
  destroySandbox(name);
});
t.afterEach((t) => {
  if (!t.passing()) t.comment(`console of ${name}:\n${consoleTail(sb)}`);
});

t.test("config contexts shows the generated context as current", async (t) => {
  const contexts = json<{ name: string; current: boolean; endpoints: string[] }[]>("config", "contexts");
  t.match(contexts, [{ name: "e2e", current: true, endpoints: [sb.endpoint] }]);
});

t.test("version, hostname and time answer with their shapes", async (t) => {
  t.match(json("version"), { tag: String, maintenance: false, platform: "sandbox" });
  t.match(json("hostname"), { hostname: "e2e-one" });
  t.match(json("time"), { localtime: String });
});

t.test("services and service show the built-in services; an unknown one exits 3", async (t) => {
  const services = json<{ id: string; state: string; healthy: boolean | null }[]>("services");
  t.ok(services.some((s) => s.id === "apid" && s.state === "Running"), "apid runs");
  t.ok(services.some((s) => s.id === "containerd"), "containerd is there");
  t.match(json("service", "apid"), { id: "apid" });
  const missing = ctl(["service", "nope"]);
  t.equal(missing.code, 3);
  t.match(missing.stderr, /^kilnctl: .*"nope".*not found\n$/);
});

t.test("logs, events and dmesg stream newline-delimited JSON", async (t) => {
  await waitFor("containerd to log", () => ctl(["logs", "containerd", "--tail", "1"]).stdout.length > 0);
  t.ok(lines("logs", "containerd", "--tail", "3").length > 0);
  const events = lines("events", "--tail", "5");
  t.equal(events.length, 5);
  t.ok(events.every((e) => typeof e.id === "number" || typeof e.id === "string"), "each event has an id");
  t.equal(ctl(["dmesg", "--tail", "3"]).code, 0);
  t.equal(ctl(["logs", "nope"]).code, 3);
});

t.test("memory, processes, mounts and containers describe the machine", async (t) => {
  t.match(json("memory"), { total: /^\d+$/ }, "a uint64, as a string in protobuf JSON");
  const procs = json<{ pid: number }[]>("processes");
  t.ok(procs.some((p) => p.pid === 1), "PID 1 is listed");
  const mounts = json<{ target: string }[]>("mounts");
  t.ok(mounts.some((m) => m.target === "/"), "the root is mounted");
  t.ok(Array.isArray(json("containers")));
});

t.test("list and read reach files but never STATE", async (t) => {
  const files = lines("list", "/etc");
  t.ok(files.some((f) => f.name === "hosts"), "/etc/hosts is listed (one JSON object per entry)");
  const hosts = ctl(["read", "/etc/hosts"]);
  t.equal(hosts.code, 0, hosts.stderr);
  t.match(hosts.stdout, /e2e-one/);
  const secret = ctl(["read", "/system/state/config.yaml"]);
  t.not(secret.code, 0);
  t.match(secret.stderr, /state/i);
});

/** apid's pid, as machined's local socket reports it. */
const apidPid = () => services(sb).find((x) => x.id === "apid")?.pid ?? 0;

/** The hostname once apid has restarted (a new hostname is in its certificate) and answers again. */
async function hostnameAfterRestart(before: number): Promise<unknown> {
  await waitFor("apid to restart and answer", () => {
    const pid = apidPid();
    return pid !== 0 && pid !== before && ctl(["version"]).code === 0;
  }, 30_000, 250);
  return json("hostname");
}

t.test("get config, patch config and edit config change the machine", async (t) => {
  t.match(ctl(["get", "config", "-o", "yaml"]).stdout, /hostname: e2e-one/);
  const first = apidPid();
  const patched = ctl(["patch", "config", "--patch", '{"machine":{"hostname":"e2e-patched"}}']);
  t.equal(patched.code, 0, patched.stderr);
  t.match(await hostnameAfterRestart(first), { hostname: "e2e-patched" });
  const second = apidPid();
  const edited = ctl(["edit", "config"], { EDITOR: "sed -i s/e2e-patched/e2e-edited/", VISUAL: "" });
  t.equal(edited.code, 0, edited.stderr);
  t.match(await hostnameAfterRestart(second), { hostname: "e2e-edited" });
  const badPatch = ctl(["patch", "config", "--patch", '[{"op":"replace","path":"/machine/nope","value":1}]']);
  t.equal(badPatch.code, 1);
});

t.test("apply-config --dry-run reports changes; validate catches a bad file offline", async (t) => {
  const dry = json<{ changes: string[] }>("apply-config", "-f", join(dir, "standalone.yaml"), "--dry-run");
  t.same(dry.changes, ["machine.hostname"]);
  t.match(json("hostname"), { hostname: "e2e-edited" }, "dry run changed nothing");
  const table = ctl(["apply-config", "-f", join(dir, "standalone.yaml"), "--dry-run"]);
  t.match(table.stdout, /^- {2}hostname: e2e-edited$/m, "the diff shows the line going");
  t.match(table.stdout, /^\+ {2}hostname: e2e-one$/m, "and the line coming");
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: boss\n");
  const v = kilnctl(["validate", "-f", bad]);
  t.equal(v.code, 1);
  t.match(v.stdout + v.stderr, /machine\.type: expected one of worker, controlplane, got "boss"/);
});

t.test("completion prints a script; an unreachable endpoint exits 4", async (t) => {
  const c = kilnctl(["completion", "bash"]);
  t.equal(c.code, 0);
  t.match(c.stdout, /_kilnctl/);
  const r = ctl(["-e", "127.0.0.1:1", "version"]);
  t.equal(r.code, 4);
  t.match(r.stderr, /127\.0\.0\.1:1/);
});

t.test("service restart and reboot work over mTLS; the machine comes back with its config", async (t) => {
  const r = ctl(["service", "containerd", "restart", "-o", "json"]);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { id: "containerd" });
  const before = sb.pid;
  t.equal(ctl(["reboot"]).code, 0);
  await waitFor("a new PID 1 answering over mTLS", () => {
    const m = JSON.parse(kilnctl(["cluster", "show", "--name", name, "-o", "json"]).stdout) as Sandbox[];
    return m[0] && m[0].pid !== before && ctl(["version"]).code === 0 ? m[0] : undefined;
  }, 40_000, 250);
  t.match(json("hostname"), { hostname: "e2e-edited" }, "the config survived the reboot");
});

t.test("config new asks the machine for a reader's kilnconfig, which may read but not reboot", async (t) => {
  const reader = join(dir, "reader-from-machine");
  const r = ctl(["config", "new", reader, "--roles", "os:reader", "--crt-ttl", "1h"]);
  t.equal(r.code, 0, r.stderr);
  t.equal((await import("node:fs")).statSync(reader).mode & 0o777, 0o600, "written 0600");
  const asReader = (...args: string[]) => kilnctl(["--kilnconfig", reader, "-e", sb.endpoint, ...args]);
  t.equal(asReader("version").code, 0, "it reaches the machine");
  const denied = asReader("reboot");
  t.equal(denied.code, 1);
  t.match(denied.stderr, /os:reader may not call/);
  t.equal(ctl(["config", "new", reader, "--roles", "os:boss"]).code, 2, "an unknown role is a usage error");
});

t.test("shutdown powers the machine off", async (t) => {
  t.equal(ctl(["shutdown"]).code, 0);
  await waitFor("the machine to stop", () => {
    const m = JSON.parse(kilnctl(["cluster", "show", "--name", name, "-o", "json"]).stdout) as { status: string }[];
    return m[0]?.status === "stopped";
  }, 20_000, 250);
});
