// kilnctl against real grpc-js servers on 127.0.0.1: mTLS with certificates
// from `gen config`, and maintenance-mode TLS with a self-signed certificate.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { grpcImplementation } from "../../src/grpc/server.js";
import { createMachineHandlers } from "../../src/machined/api/handlers.js";
import { writeKilnconfig } from "../../src/cli/kilnconfig-file.js";
import { type CertAndKey, createCA, issueClientCert, issueServerCert, selfSigned } from "../../src/pki/certs.js";
import { fingerprint } from "../../src/pki/fingerprint.js";
import { encodeBase64Pem } from "../../src/pki/pem.js";
import { parseSecrets } from "../../src/pki/secrets-bundle.js";
import { testCa, worker } from "../config/fixtures.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

/** Runs kilnctl in-process; out and err are what this run wrote. `clock`: real time passes (waits end). */
async function run(args: string[], env: Record<string, string> = {}, clock = false) {
  const deps = createFakeDeps({ env: { HOME: dir, ...env }, ...(clock ? { now: () => new Date() } : {}) });
  const code = await runCli(args, deps);
  return { code, out: deps.out(), err: deps.err() };
}

/** A machine API on 127.0.0.1 with `creds`; records the `nodes` metadata of each Version call. */
async function apiServer(creds: ServerCredentials, machine = createFakeMachine(), at = 0): Promise<{ port: number; nodes: string[] }> {
  const nodes: string[] = [];
  const handlers = createMachineHandlers(machine, () => "node-a");
  const version = handlers.version;
  handlers.version = (req, ctx) => {
    nodes.push(ctx.metadata.get("nodes").join(","));
    return version(req, ctx);
  };
  const server = new Server();
  const { definition, implementation } = grpcImplementation(MachineService, handlers);
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${at}`, creds, (err, p) => (err ? reject(err) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  return { port, nodes };
}

/** TLS credentials for a server with `identity`, requiring client certificates from `clientCa` when given. */
function tlsCreds(identity: CertAndKey, clientCa?: string): ServerCredentials {
  const pair = { private_key: Buffer.from(identity.key), cert_chain: Buffer.from(identity.crt) };
  return ServerCredentials.createSsl(clientCa ? Buffer.from(clientCa) : null, [pair], clientCa !== undefined);
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const dir = await mkdtemp(join(tmpdir(), "kilnctl-conn-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const gen = await run(["gen", "config", "--name", "lab", "--endpoint", "127.0.0.1", "--out", dir]);
if (gen.code !== 0) throw new Error(gen.err);
const parsed = parseSecrets(await readFile(join(dir, "secrets.yaml"), "utf8"));
if ("errors" in parsed) throw new Error(parsed.errors.join("; "));
const machineCa = parsed.value.machine.ca;
const kilnconfig = join(dir, "kilnconfig");
const mtls = await apiServer(tlsCreds(await issueServerCert(machineCa, { commonName: "apid", sans: ["127.0.0.1"] }), machineCa.crt));
const maintenanceCert = await selfSigned({ commonName: "maintenance", sans: ["127.0.0.1"] });
const maintenance = await apiServer(tlsCreds(maintenanceCert));

t.test("connects over mTLS with the kilnconfig gen config wrote", async (t) => {
  const r = await run(["--kilnconfig", kilnconfig, "-e", `127.0.0.1:${mtls.port}`, "version", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.match(JSON.parse(r.out), { node: "node-a", tag: "0.1.0" });
});

t.test("sends -n nodes as metadata, else the context's nodes, else none", async (t) => {
  const e = `127.0.0.1:${mtls.port}`;
  mtls.nodes.length = 0;
  t.equal((await run(["-e", e, "-n", "10.0.0.2,10.0.0.3", "version"], { KILNCONFIG: kilnconfig })).code, 0);
  t.equal((await run(["-e", e, "version"], { KILNCONFIG: kilnconfig })).code, 0);
  t.same(mtls.nodes, ["10.0.0.2,10.0.0.3", ""]);
});

t.test("uses the context's endpoints and nodes when no flag names them", async (t) => {
  const own = join(dir, "own-kilnconfig");
  await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:reader", "--out", own, "--endpoint", `127.0.0.1:${mtls.port}`]);
  await run(["config", "node", "n1", "--kilnconfig", own]);
  mtls.nodes.length = 0;
  const r = await run(["version", "-o", "json"], { KILNCONFIG: own });
  t.equal(r.code, 0, r.err);
  t.same(mtls.nodes, ["n1"]);
});

t.test("tries the endpoints in order and uses the first that answers", async (t) => {
  const r = await run(["-e", `127.0.0.1:${await closedPort()},127.0.0.1:${mtls.port}`, "version"], { KILNCONFIG: kilnconfig });
  t.equal(r.code, 0, r.err);
});

t.test("exits 4 naming the endpoint when nothing listens", async (t) => {
  const port = await closedPort();
  const r = await run(["-e", `127.0.0.1:${port}`, "version"], { KILNCONFIG: kilnconfig });
  t.equal(r.code, 4);
  t.equal(r.err, `kilnctl: connecting to 127.0.0.1:${port}: connection refused (is apid running?)\n`);
  t.equal(r.out, "");
});

t.test("exits 4 when the server's certificate is not from the context's CA", async (t) => {
  const other = await apiServer(tlsCreds(await issueServerCert(await createCA("other"), { commonName: "apid", sans: ["127.0.0.1"] })));
  const r = await run(["-e", `127.0.0.1:${other.port}`, "version"], { KILNCONFIG: kilnconfig });
  t.equal(r.code, 4);
  t.equal(
    r.err,
    `kilnctl: connecting to 127.0.0.1:${other.port}: untrusted server certificate: unable to verify the first certificate (not signed by the kilnconfig context's CA; a machine in maintenance mode needs --insecure)\n`,
  );
});

t.test("health --wait-timeout waits for an endpoint that refuses connections, and checks once it answers", async (t) => {
  const port = await closedPort();
  const deps = createFakeDeps({ env: { HOME: dir, KILNCONFIG: kilnconfig }, now: () => new Date() });
  const checking = runCli(["-e", `127.0.0.1:${port}`, "health", "--wait-timeout", "6s"], deps);
  // Once it has been refused and said so, the API comes up before its next attempt, 3 s later.
  const waiting = "kilnctl: waiting for the machine API: connection refused (is apid running?)\n";
  while (!deps.err().includes(waiting)) await new Promise((r) => setTimeout(r, 20));
  await apiServer(tlsCreds(await issueServerCert(machineCa, { commonName: "apid", sans: ["127.0.0.1"] }), machineCa.crt), undefined, port);
  const code = await checking;
  t.equal(code, 7, `it connected and ran the checks (the fake machine has no Kubernetes, so they do not hold): ${deps.err()}`);
  t.match(deps.err(), /Kubernetes API.* did not hold within 6s/);
});

t.test("health --wait-timeout gives up with exit 4 when nothing answers in time, and does not wait for a refusal", async (t) => {
  const port = await closedPort();
  const r = await run(["-e", `127.0.0.1:${port}`, "health", "--wait-timeout", "5s"], { KILNCONFIG: kilnconfig }, true);
  t.equal(r.code, 4);
  t.equal(r.err, `kilnctl: waiting for the machine API: connection refused (is apid running?)\nkilnctl: connecting to 127.0.0.1:${port}: connection refused (is apid running?)\n`);
  const other = await apiServer(tlsCreds(await issueServerCert(await createCA("other"), { commonName: "apid", sans: ["127.0.0.1"] })));
  const untrusted = await run(["-e", `127.0.0.1:${other.port}`, "health", "--wait-timeout", "5m"], { KILNCONFIG: kilnconfig }, true);
  t.equal(untrusted.code, 4, "an untrusted certificate is not something waiting mends");
  t.match(untrusted.err, /^kilnctl: connecting to [^\n]*untrusted server certificate[^\n]*\n$/);
});

t.test("exits 4 when the server's certificate does not name the address dialled", async (t) => {
  const other = await apiServer(tlsCreds(await issueServerCert(machineCa, { commonName: "apid", sans: ["10.9.9.9"] }), machineCa.crt));
  const r = await run(["-e", `127.0.0.1:${other.port}`, "version"], { KILNCONFIG: kilnconfig });
  t.equal(r.code, 4);
  t.match(r.err, new RegExp(`^kilnctl: connecting to 127\\.0\\.0\\.1:${other.port}: server certificate does not name this endpoint: .*127\\.0\\.0\\.1.*\n$`));
});

t.test("--insecure with a wrong --cert-fingerprint is refused before any call", async (t) => {
  const wrong = "AB:".repeat(31) + "AB";
  maintenance.nodes.length = 0;
  const r = await run(["-e", `127.0.0.1:${maintenance.port}`, "--insecure", "--cert-fingerprint", wrong, "version"]);
  t.equal(r.code, 4);
  const line = `server certificate fingerprint ${fingerprint(maintenanceCert.crt)} does not match --cert-fingerprint ${"ab".repeat(32)}`;
  t.equal(r.err, `kilnctl: connecting to 127.0.0.1:${maintenance.port}: ${line}\n`);
  t.same(maintenance.nodes, [], "no call reached the server");
});

t.test("--insecure with the right --cert-fingerprint connects without a kilnconfig", async (t) => {
  const fp = fingerprint(maintenanceCert.crt);
  const r = await run(["-e", `127.0.0.1:${maintenance.port}`, "--insecure", "--cert-fingerprint", fp, "version", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.match(JSON.parse(r.out), { node: "node-a" });
});

t.test("--insecure without a fingerprint connects to any server", async (t) => {
  const r = await run(["version", "--insecure", "-e", `127.0.0.1:${maintenance.port}`]);
  t.equal(r.code, 0, r.err);
});

t.test("apply-config --insecure without --cert-fingerprint refuses to send keys or tokens, unless told to", async (t) => {
  const machine = createFakeMachine();
  const server = await apiServer(tlsCreds(maintenanceCert), machine);
  const withSecrets = join(dir, "config-with-keys.yaml");
  const without = join(dir, "config-without-keys.yaml");
  await writeFile(withSecrets, worker({ ca: testCa, token: "abcdef.0123456789abcdef" }));
  await writeFile(without, worker({ hostname: "node-1" }));
  const e = `127.0.0.1:${server.port}`;
  const refused = await run(["-e", e, "--insecure", "apply-config", "-f", withSecrets]);
  t.equal(refused.code, 2);
  t.equal(
    refused.err,
    `kilnctl: --insecure: refusing to send ${withSecrets}: it holds machine.ca.key, machine.token, and --insecure without --cert-fingerprint sends them to whatever server answers, unverified. ` +
      'Pin the machine: pass --cert-fingerprint with the SHA-256 fingerprint its console shows ("maintenance mode: apid certificate fingerprint …"), or give --send-secrets-unverified to send them anyway\n',
  );
  t.equal((await run(["-e", e, "--insecure", "apply-config", "-f", withSecrets, "--dry-run"])).code, 2, "a dry run sends the config too");
  t.same(machine.applied, [], "nothing was sent");
  t.equal((await run(["-e", e, "--insecure", "apply-config", "-f", without])).code, 0, "a config without secrets goes");
  t.equal((await run(["-e", e, "--insecure", "--cert-fingerprint", fingerprint(maintenanceCert.crt), "apply-config", "-f", withSecrets])).code, 0, "pinned: goes");
  t.equal((await run(["-e", e, "--insecure", "apply-config", "-f", withSecrets, "--send-secrets-unverified"])).code, 0, "told to: goes");
  t.equal(machine.applied.length, 3);
});

t.test("a machine in maintenance mode is refused without --insecure", async (t) => {
  const r = await run(["-e", `127.0.0.1:${maintenance.port}`, "version"], { KILNCONFIG: kilnconfig });
  t.equal(r.code, 4);
  t.match(r.err, /: untrusted server certificate: self-signed certificate \(not signed by the kilnconfig context's CA; a machine in maintenance mode needs --insecure\)\n$/);
});

t.test("a server requiring client certificates refuses --insecure with exit 4", async (t) => {
  const r = await run(["-e", `127.0.0.1:${mtls.port}`, "--insecure", "version"]);
  t.equal(r.code, 4);
  t.equal(r.err, `kilnctl: connecting to 127.0.0.1:${mtls.port}: the server requires a client certificate (it is not in maintenance mode: connect without --insecure)\n`);
});

/** A kilnconfig at `name` whose client certificate is `client`, trusting the machine CA. */
async function kilnconfigWith(name: string, client: CertAndKey): Promise<string> {
  const path = join(dir, name);
  const context = { endpoints: [`127.0.0.1:${mtls.port}`], nodes: [], ca: encodeBase64Pem(machineCa.crt), crt: encodeBase64Pem(client.crt), key: encodeBase64Pem(client.key) };
  await writeKilnconfig(path, { context: "x", contexts: { x: context } }, { overwrite: true });
  return path;
}

t.test("a client certificate from another CA is refused by the server with exit 4", async (t) => {
  const path = await kilnconfigWith("foreign", await issueClientCert(await createCA("other"), { roles: ["os:admin"] }));
  const r = await run(["version"], { KILNCONFIG: path });
  t.equal(r.code, 4);
  const why = "the server closed the connection after the TLS handshake: it did not accept the client certificate (is it from this machine's CA?)";
  t.equal(r.err, `kilnctl: connecting to 127.0.0.1:${mtls.port}: ${why}\n`);
});

t.test("an expired client certificate is reported before connecting", async (t) => {
  const now = new Date(Date.now() - 3_600_000);
  const expired = await issueClientCert(machineCa, { roles: ["os:admin"], ttlMs: 60_000, now });
  const r = await run(["version"], { KILNCONFIG: await kilnconfigWith("expired", expired) });
  t.equal(r.code, 1);
  const at = new Date(Math.floor((now.getTime() + 60_000) / 1000) * 1000).toISOString();
  t.equal(r.err, `kilnctl: context "x": the client certificate expired at ${at} (kilnctl gen kilnconfig issues a new one)\n`);
});

t.test("mTLS without a kilnconfig is a usage error saying what is missing", async (t) => {
  const r = await run(["-e", "10.0.0.2", "version"]);
  t.equal(r.code, 2);
  t.equal(
    r.err,
    `kilnctl: --kilnconfig: mTLS needs the machine CA and a client certificate from a kilnconfig, and there is none at ${join(dir, ".kiln", "config")} (kilnctl gen config writes one; use --insecure for a machine in maintenance mode)\n`,
  );
});

t.test("--cert-fingerprint needs --insecure and a SHA-256 fingerprint", async (t) => {
  t.equal((await run(["-e", "10.0.0.2", "--cert-fingerprint", "ab".repeat(32), "version"])).err, "kilnctl: --cert-fingerprint: applies only with --insecure\n");
  const bad = await run(["-e", "10.0.0.2", "--insecure", "--cert-fingerprint", "xyz", "version"]);
  t.equal(bad.err, 'kilnctl: --cert-fingerprint: expected a SHA-256 fingerprint (64 hex digits, colons allowed), got "xyz"\n');
});

t.test("a context without endpoints and no -e is a usage error", async (t) => {
  const own = join(dir, "no-endpoints");
  await run(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:admin", "--out", own]);
  const r = await run(["version"], { KILNCONFIG: own });
  t.equal(r.code, 2);
  t.equal(r.err, 'kilnctl: --endpoints: no machine API endpoint: context "lab" has none; pass -e HOST or run kilnctl config endpoint HOST\n');
});

t.test("a unix endpoint needs no kilnconfig, even a broken one", async (t) => {
  const r = await run(["-e", join(dir, "none.sock"), "version"], { KILNCONFIG: join(dir, "secrets.yaml") });
  t.equal(r.code, 4);
  t.equal(r.err, `kilnctl: connecting to unix://${join(dir, "none.sock")}: no such socket\n`);
});
