import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { parse, stringify } from "yaml";
import { type KilnConfig, parseKilnconfig } from "../../src/config/kilnconfig.js";
import { runCli } from "../../src/cli/program.js";
import { parseConfig } from "../../src/config/parse.js";
import { decodeBase64Pem, encodeBase64Pem } from "../../src/pki/pem.js";
import { rolesOf } from "../../src/pki/roles.js";
import { parseSecrets, type SecretsBundle } from "../../src/pki/secrets-bundle.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

/** Runs kilnctl in-process; out and err are what this run wrote. */
async function run(args: string[], env: Record<string, string> = {}) {
  const deps = createFakeDeps({ env });
  const code = await runCli(args, deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** A temp dir, removed after the test. */
async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kilnctl-gen-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The bundle in DIR/secrets.yaml. */
async function secretsIn(dir: string): Promise<SecretsBundle> {
  const parsed = parseSecrets(await readFile(join(dir, "secrets.yaml"), "utf8"));
  if ("errors" in parsed) throw new Error(parsed.errors.join("; "));
  return parsed.value;
}

/** The kilnconfig at `path`. */
async function kilnconfigAt(path: string): Promise<KilnConfig> {
  const parsed = parseKilnconfig(await readFile(path, "utf8"));
  if ("errors" in parsed) throw new Error(parsed.errors.join("; "));
  return parsed.value;
}

t.test("gen config writes a secrets bundle, three valid machine configs and a kilnconfig, all mode 0600", async (t) => {
  const dir = await tempDir(t);
  const r = await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir, "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.same(JSON.parse(r.out).map((f: { file: string }) => f.file), ["secrets.yaml", "controlplane.yaml", "worker.yaml", "standalone.yaml", "kilnconfig"].map((f) => join(dir, f)));
  for (const f of await readdir(dir)) t.equal((await stat(join(dir, f))).mode & 0o777, 0o600, `${f} is 0600`);
  const bundle = await secretsIn(dir);
  t.equal(bundle.name, "lab");
  for (const type of ["controlplane", "worker"]) {
    const parsed = parseConfig(await readFile(join(dir, `${type}.yaml`), "utf8"));
    t.same("errors" in parsed ? parsed.errors : [], [], `${type}.yaml is valid`);
  }
});

t.test("the machine configs embed the bundle: only the control plane the machine CA's and the Kubernetes CA's keys, both the machine token", async (t) => {
  const dir = await tempDir(t);
  t.equal((await run(["gen", "config", "--name", "lab", "--endpoint", "cp.example.com:50001", "--out", dir])).code, 0);
  const bundle = await secretsIn(dir);
  const cp = parse(await readFile(join(dir, "controlplane.yaml"), "utf8"));
  const worker = parse(await readFile(join(dir, "worker.yaml"), "utf8"));
  t.equal(decodeBase64Pem(cp.machine.ca.key), bundle.machine.ca.key);
  t.equal(worker.machine.ca.key, undefined, "a worker asks a control plane for apid's certificate");
  t.equal(decodeBase64Pem(worker.machine.ca.crt), bundle.machine.ca.crt);
  t.equal(cp.machine.token, bundle.machine.token);
  t.equal(worker.machine.token, bundle.machine.token);
  const standalone = parse(await readFile(join(dir, "standalone.yaml"), "utf8"));
  t.same(standalone, { ...worker, machine: { ...worker.machine, ca: { crt: worker.machine.ca.crt, key: encodeBase64Pem(bundle.machine.ca.key) } } }, "standalone.yaml: worker.yaml with the machine CA's key");
  t.equal(decodeBase64Pem(cp.cluster.ca.key), bundle.cluster.ca.key);
  t.equal(worker.cluster.ca.key, undefined);
  t.equal(decodeBase64Pem(worker.cluster.ca.crt), bundle.cluster.ca.crt);
  t.same([cp.machine.type, worker.machine.type], ["controlplane", "worker"]);
  t.same(cp.machine.certSANs, ["cp.example.com"]);
  t.same(cp.cluster, { ...cp.cluster, name: "lab", controlPlane: { endpoint: "https://cp.example.com:6443" }, token: bundle.cluster.token });
  t.equal(worker.cluster.controlPlane.endpoint, "https://cp.example.com:6443");
  // What only control planes hold: in controlplane.yaml, never in worker.yaml.
  t.equal(decodeBase64Pem(cp.cluster.serviceAccount.key), bundle.serviceAccount!.key);
  t.equal(decodeBase64Pem(cp.cluster.frontProxy.ca.key), bundle.frontProxy!.ca.key);
  t.equal(decodeBase64Pem(cp.cluster.etcd.ca.key), bundle.etcd!.ca.key);
  t.same([worker.cluster.serviceAccount, worker.cluster.frontProxy, worker.cluster.etcd], [undefined, undefined, undefined]);
  t.ok("config" in parseConfig(stringify(cp)), "controlplane.yaml validates");
  t.ok("config" in parseConfig(stringify(worker)), "worker.yaml validates");
});

t.test("gen config's kilnconfig has one current context with an os:admin certificate from the machine CA", async (t) => {
  const dir = await tempDir(t);
  await run(["gen", "config", "--name", "lab", "--endpoint", "fd00::10", "--out", dir]);
  const bundle = await secretsIn(dir);
  const kc = await kilnconfigAt(join(dir, "kilnconfig"));
  t.equal(kc.context, "lab");
  const ctx = kc.contexts.lab!;
  t.same([ctx.endpoints, ctx.nodes], [["[fd00::10]:50000"], []]);
  t.equal(decodeBase64Pem(ctx.ca!), bundle.machine.ca.crt);
  const crt = decodeBase64Pem(ctx.crt!);
  t.ok(new X509Certificate(crt).verify(new X509Certificate(bundle.machine.ca.crt).publicKey));
  t.same(rolesOf(crt), ["os:admin"]);
});

t.test("gen config refuses to overwrite a file without --force, naming it and writing nothing", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "worker.yaml"), "mine\n");
  const r = await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir]);
  t.equal(r.code, 1);
  t.equal(r.err, `kilnctl: writing ${join(dir, "worker.yaml")}: file exists; pass --force to overwrite it\n`);
  t.same(await readdir(dir), ["worker.yaml"]);
  t.equal(await readFile(join(dir, "worker.yaml"), "utf8"), "mine\n");
  const forced = await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir, "--force"]);
  t.equal(forced.code, 0, forced.err);
  t.equal((await stat(join(dir, "worker.yaml"))).mode & 0o777, 0o600);
  t.match(await readFile(join(dir, "worker.yaml"), "utf8"), /kind: MachineConfig/);
});

t.test("gen config exits 2 for a bad name or endpoint", async (t) => {
  const bad = await run(["gen", "config", "--name", "lab", "--endpoint", "https://x", "--out", "/nonexistent"]);
  t.equal(bad.code, 2);
  t.match(bad.err, /^kilnctl: --endpoint: expected HOST\[:PORT\]/);
  const unix = await run(["gen", "config", "--name", "lab", "--endpoint", "unix:///x.sock", "--out", "/nonexistent"]);
  t.equal(unix.err, 'kilnctl: --endpoint: expected one HOST[:PORT] such as 10.0.0.10 or cp.example.com:50000, got "unix:///x.sock"\n');
  const name = await run(["gen", "config", "--name", "a b", "--endpoint", "10.0.0.1", "--out", "/nonexistent"]);
  t.equal(name.code, 2);
  t.match(name.err, /^kilnctl: --name: expected a name of letters/);
});

t.test("gen kilnconfig issues a certificate for the role, offline, with the given endpoints and context", async (t) => {
  const dir = await tempDir(t);
  await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir]);
  const out = join(dir, "reader");
  const args = ["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:reader", "--out", out];
  const r = await run([...args, "--endpoint", "10.0.0.10,10.0.0.11:50001", "--context", "lab-ro", "--ttl", "1h", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  const record = JSON.parse(r.out);
  t.same({ ...record, expires: "" }, { file: out, context: "lab-ro", role: "os:reader", endpoints: ["10.0.0.10:50000", "10.0.0.11:50001"], expires: "" });
  t.ok(Math.abs(Date.parse(record.expires) - Date.now() - 3_600_000) < 60_000, "expires in an hour");
  t.equal((await stat(out)).mode & 0o777, 0o600);
  const kc = await kilnconfigAt(out);
  t.equal(kc.context, "lab-ro");
  t.same(rolesOf(decodeBase64Pem(kc.contexts["lab-ro"]!.crt!)), ["os:reader"]);
  const again = await run(args);
  t.equal(again.err, `kilnctl: writing ${out}: file exists; pass --force to overwrite it\n`);
});

t.test("gen kilnconfig names the context after the cluster and warns about a secrets file others can read", async (t) => {
  const dir = await tempDir(t);
  await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir]);
  await writeFile(join(dir, "open.yaml"), await readFile(join(dir, "secrets.yaml")), { mode: 0o644 });
  const r = await run(["gen", "kilnconfig", "--secrets", join(dir, "open.yaml"), "--role", "os:operator", "--out", join(dir, "op")]);
  t.equal(r.code, 0);
  t.equal(r.err, `kilnctl: warning: ${join(dir, "open.yaml")} holds CA keys and is readable by others (mode 0644); chmod 600 it\n`);
  t.match(r.out, /^FILE +CONTEXT +ROLE +ENDPOINTS +EXPIRES\n.* lab +os:operator +- +20/);
});

t.test("gen kilnconfig refuses an unknown role and an invalid secrets file", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "secrets.yaml"), "kind: Nope\n");
  const role = await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "root", "--out", join(dir, "k")]);
  t.equal(role.code, 2);
  t.match(role.err, /argument 'root' is invalid. Allowed choices are os:admin, os:operator, os:reader/);
  const bad = await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:admin", "--out", join(dir, "k")]);
  t.equal(bad.code, 1);
  t.match(bad.err, new RegExp(`^kilnctl: secrets bundle ${join(dir, "secrets.yaml")}: apiVersion: required`));
  const missing = await run(["gen", "kilnconfig", "--secrets", join(dir, "none.yaml"), "--role", "os:admin", "--out", join(dir, "k")]);
  t.equal(missing.err, `kilnctl: reading ${join(dir, "none.yaml")}: no such file or directory\n`);
});

t.test("gen kilnconfig refuses a --ttl over 8760h, naming the maximum, and writes nothing", async (t) => {
  const dir = await tempDir(t);
  await run(["gen", "config", "--name", "lab", "--endpoint", "10.0.0.10", "--out", dir]);
  const out = join(dir, "long");
  const r = await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:admin", "--out", out, "--ttl", "87600h"]);
  t.equal(r.code, 2);
  t.equal(r.err, "kilnctl: --ttl: a client certificate lives at most 8760h (one year), and more than 0; got 87600h\n");
  await t.rejects(stat(out), { code: "ENOENT" });
  t.equal((await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:admin", "--out", out, "--ttl", "8760h"])).code, 0, "exactly the maximum");
});
