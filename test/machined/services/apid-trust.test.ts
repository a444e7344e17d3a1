// A worker's apid gets its certificate from a control plane: two machines'
// apids as machined runs them (the bundled program, the real supervisor, the
// machine API socket), the control plane's serving the trust port and
// signing with the machine CA, the worker's config holding only the CA's
// certificate and the machine token. Then a wrong token and a flood.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import t, { type Test } from "tap";
import { noClientCertificate } from "../../../src/apid/fan-out.js";
import type { MachineConfig } from "../../../src/config/schema.js";
import { VersionResponseSchema } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { bundle, entries } from "../../../src/image/bundle.js";
import { startMachineApi } from "../../../src/machined/api/server.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import { apidOwner, apidPaths, createApidControl } from "../../../src/machined/services/apid.js";
import { createSupervisor } from "../../../src/machined/supervisor/supervisor.js";
import { issueForMachine } from "../../../src/machined/trust/issue.js";
import { requestServerCert } from "../../../src/machined/trust/request.js";
import { localAddresses } from "../../../src/machinery/local-addresses.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { rolesOf } from "../../../src/pki/roles.js";
import { createTestPki, type TestPki } from "../../apid/fixtures/pki.js";
import { apidClient, callUnary } from "../../apid/fixtures/stack.js";
import { configOf, yamlDoc } from "../../config/fixtures.js";
import { createFakeMachine } from "../api/fixtures/fake-machine.js";
import { freePort, testContext } from "../helpers.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const token = "abcdef.0123456789abcdef";
const endpoint = { controlPlane: { endpoint: "https://127.0.0.1:6443" } };

/** Polls an async check until it holds. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A control plane's config (machine CA with its key, the token) and a worker's (the CA's certificate, a token), each with `peers`. */
function configs(pki: TestPki, workerToken = token, peers: string[] = []): { cp: MachineConfig; worker: MachineConfig } {
  const crt = encodeBase64Pem(pki.ca.crt);
  const api = peers.length > 0 ? { api: { peers } } : {};
  return {
    // Both machines share this host's host name: the control plane goes by another, as it would on its own machine.
    cp: configOf(yamlDoc({ machine: { type: "controlplane", hostname: "cp-test", ca: { crt, key: encodeBase64Pem(pki.ca.key) }, token, ...api }, cluster: endpoint })),
    worker: configOf(yamlDoc({ machine: { type: "worker", ca: { crt }, token: workerToken, ...api }, cluster: endpoint })),
  };
}

interface Node {
  port: number;
  tlsDir: string;
  apidState(): { state: string; message: string };
}

/** One machine: machined's API socket for apid (its TrustService signing for `config`), a supervisor, apid. */
async function startNode(t: Test, base: string, name: string, config: MachineConfig, ports: { trust: number; api?: number }): Promise<Node> {
  const dir = join(base, name);
  mkdirSync(join(dir, "run"), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const ctx = testContext(dir);
  ctx.config = config;
  const machine = { ...createFakeMachine(), issueMachineCertificate: (req: { token: string; csr: string }) => issueForMachine(config, req) };
  const api = await startMachineApi(machine, [{ path: apidPaths(ctx).machinedSocket, owner: apidOwner(), apid: true }], { node: () => name, closeGraceMs: 100 });
  const events = createEventBus({ capacity: 100 });
  const supervisor = createSupervisor({ context: ctx, events, backoff: { initialMs: 50 }, log: () => {} });
  const port = ports.api ?? (await freePort());
  const control = createApidControl({
    supervisor,
    events,
    log: () => {},
    service: { command: [process.execPath, join(base, "dist", "apid.cjs")], port, trustPort: ports.trust },
    restartDelayMs: 10,
  });
  supervisor.register(control.definition);
  t.teardown(async () => {
    await supervisor.stopAll(2000);
    await api.close();
  });
  void supervisor.start("apid").catch(() => {});
  const apidState = () => {
    const s = supervisor.status().find((x) => x.id === "apid")!;
    return { state: s.state, message: s.message };
  };
  return { port, tlsDir: apidPaths(ctx).tls, apidState };
}

/** A directory for both machines, readable by apid's user, with apid's bundle built into it. */
async function workspace(t: Test): Promise<string> {
  const base = mkdtempSync(join(tmpdir(), "kiln-apid-trust-"));
  chmodSync(base, 0o755);
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const built = await bundle({ root, outDir: join(base, "dist"), only: entries.filter((e) => e.out === "apid.cjs") });
  t.same(built.built, ["apid.cjs"]);
  return base;
}

const version = "/kiln.machine.v1.MachineService/Version";

t.test("a worker without the machine CA's key serves mTLS with a certificate the control plane signed", async (t) => {
  const base = await workspace(t);
  const pki = await createTestPki();
  const [trust, wPort, cpPort] = [await freePort(), await freePort(), await freePort()];
  const { cp, worker } = configs(pki, token, [`127.0.0.1:${wPort}`, `127.0.0.1:${cpPort}`]);
  // The worker first: it waits for the control plane, as a worker that boots first does.
  const w = await startNode(t, base, "worker", worker, { trust, api: wPort });
  await until("the worker to wait for the control plane", () => w.apidState().state === "Waiting" && /trust port\): 127\.0\.0\.1:\d+: UNAVAILABLE: .*ECONNREFUSED/.test(w.apidState().message));
  const c = await startNode(t, base, "cp", cp, { trust, api: cpPort });

  const admin = apidClient(t, w.port, pki.ca, pki.clients.admin);
  await until("the worker's apid over mTLS", async () => (await callUnary(admin, version)).code === status.OK);
  const server = new X509Certificate(readFileSync(join(w.tlsDir, "server.crt")));
  t.ok(server.verify(new X509Certificate(pki.ca.crt).publicKey), "signed by the machine CA");
  t.same(rolesOf(server.raw), [], "carries no role");
  t.same(server.keyUsage, ["1.3.6.1.5.5.7.3.1"], "ExtKeyUsage serverAuth only");
  t.ok(server.checkIP("127.0.0.1"), "names the worker's addresses");
  t.notOk(existsSync(join(w.tlsDir, "client.crt")), "no impersonator certificate: calls for other nodes go through a control plane");
  t.equal(readFileSync(join(w.tlsDir, "ca.crt"), "utf8"), pki.ca.crt, "verifies clients against the machine CA");
  t.equal((await callUnary(apidClient(t, w.port, pki.ca), version)).code, status.UNAVAILABLE, "still no answer without a client certificate");
  // The control plane's own apid serves mTLS as before.
  t.equal((await callUnary(apidClient(t, c.port, pki.ca, pki.clients.admin), version)).code, status.OK);

  // -n with the worker's own address is served by the worker; -n another node is refused, saying where to send it.
  const nodes = (n: number) => ({ nodes: `127.0.0.1:${n}` });
  const own = await callUnary(admin, version, Buffer.alloc(0), nodes(w.port));
  t.equal(own.code, status.OK);
  t.same(versionNodes(own.messages[0]), [{ node: `127.0.0.1:${w.port}`, error: "" }], "answered by the worker itself");
  const other = versionNodes((await callUnary(admin, version, Buffer.alloc(0), nodes(c.port))).messages[0]);
  t.same(other, [{ node: `127.0.0.1:${c.port}`, error: `FAILED_PRECONDITION: ${noClientCertificate}` }]);
  // Through the control plane, the worker answers (the control plane's apid holds an impersonator certificate).
  const through = await callUnary(apidClient(t, c.port, pki.ca, pki.clients.admin), version, Buffer.alloc(0), nodes(w.port));
  t.same(versionNodes(through.messages[0]), [{ node: `127.0.0.1:${w.port}`, error: "" }]);
});

/** Each message's node and error of a Version answer. */
function versionNodes(bytes: Buffer | undefined): { node: string; error: string }[] {
  return fromBinary(VersionResponseSchema, bytes ?? Buffer.alloc(0)).messages.map((m) => ({ node: m.metadata?.node ?? "", error: m.metadata?.error ?? "" }));
}

t.test("a wrong token: the worker waits, saying the control plane refused it; nothing is signed", async (t) => {
  const base = await workspace(t);
  const pki = await createTestPki();
  const { cp, worker } = configs(pki, "zzzzzz.0123456789abcdef");
  const trust = await freePort();
  await startNode(t, base, "cp", cp, { trust });
  const w = await startNode(t, base, "worker", worker, { trust });
  await until("the refusal in the worker's apid state", () => /machine token does not match/.test(w.apidState().message));
  t.match(w.apidState(), { state: "Waiting", message: /apid's certificate from the control plane.*127\.0\.0\.1:\d+: PERMISSION_DENIED: the machine token does not match this cluster's: set machine.token to the value in the control plane's config$/ });
  t.notOk(existsSync(join(w.tlsDir, "server.crt")));
});

t.test("the trust port takes no client certificate, signs only the caller's own names, and is verified by the caller", async (t) => {
  const base = await workspace(t);
  const pki = await createTestPki();
  const { cp } = configs(pki);
  const trust = await freePort();
  const c = await startNode(t, base, "cp", cp, { trust });
  await until("the control plane's apid", async () => (await callUnary(apidClient(t, c.port, pki.ca, pki.clients.admin), version)).code === status.OK);
  const target = { host: "127.0.0.1", port: trust, ca: pki.ca.crt, token };
  // Only the caller's names are signed: its host name, the address it came from (here 127.0.0.1), loopback.
  const issued = await requestServerCert(target, { commonName: "w-1", sans: ["w-1", "cp-test", "10.5.0.9", "127.0.0.1", "localhost"] });
  t.equal(new X509Certificate(issued.crt).subjectAltName, "DNS:w-1, IP Address:127.0.0.1, DNS:localhost");
  // From a network address (apid listens dual-stack, so the peer comes as ::ffff:A): that address is signed too.
  const address = localAddresses().find((a) => isIP(a) === 4 && !a.startsWith("127."));
  if (address) {
    const fromNetwork = await requestServerCert({ ...target, host: address }, { commonName: "w-1", sans: ["w-1", address, "10.255.255.9"] });
    t.equal(new X509Certificate(fromNetwork.crt).subjectAltName, `DNS:w-1, IP Address:${address}`, "the address the request came from, nothing else");
  } else t.fail("this test needs an IPv4 address other than loopback on the host");
  await t.rejects(requestServerCert(target, { commonName: "cp-test", sans: ["cp-test"] }), { code: status.PERMISSION_DENIED, message: /names "cp-test", this control plane or the cluster's endpoint/ });
  await t.rejects(requestServerCert(target, { commonName: "127.0.0.1", sans: [] }), { code: status.PERMISSION_DENIED, message: /names "127.0.0.1", this control plane or the cluster's endpoint/ });
  await t.rejects(requestServerCert(target, { commonName: "w-1", sans: ["not a name"] }), { code: status.INVALID_ARGUMENT, message: 'the certificate request names dns "not a name"; only DNS names and IP addresses are signed' });
  // Another CA's control plane is not trusted: the worker would send its token nowhere.
  const other = await createTestPki();
  await t.rejects(requestServerCert({ ...target, ca: other.ca.crt }, { commonName: "w-1", sans: [] }), { code: status.UNAVAILABLE, message: /self-signed certificate|unable to verify|certificate/ });
});
