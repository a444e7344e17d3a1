// apid's behaviour over TCP beyond the matrix: maintenance mode, secrets,
// health, reflection, streams with cancel and deadline, fan-out.
import { connect as tlsConnect } from "node:tls";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type Client as GrpcClient, credentials, Metadata, status } from "@grpc/grpc-js";
import t from "tap";
import { HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as Serving, HealthCheckResponseSchema } from "../../src/gen/grpc/health/v1/health_pb.js";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import {
  ApplyConfigurationRequestSchema,
  GetConfigurationResponseSchema,
  LogsRequestSchema,
  LogsResponseSchema,
  MachineService,
  RebootResponseSchema,
  ServiceListResponseSchema,
} from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../src/grpc/client.js";
import { apidModeHeader } from "../../src/machinery/apid.js";
import type { CertAndKey } from "../../src/pki/certs.js";
import { testCa, worker } from "../config/fixtures.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callStream, callUnary, type Stack, startStack } from "./fixtures/stack.js";

const machine = (name: string) => `/kiln.machine.v1.MachineService/${name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let pki: TestPki;

t.before(async () => {
  pki = await createTestPki();
});

/** A typed MachineService client of apid presenting `cert`. */
function typedClient(t: { teardown(fn: () => unknown): void }, stack: Stack, cert: CertAndKey) {
  const creds = credentials.createSsl(Buffer.from(pki.ca.crt), Buffer.from(cert.key), Buffer.from(cert.crt));
  const client = createClient(MachineService, `127.0.0.1:${stack.port}`, creds);
  t.teardown(() => client.close());
  return client;
}

/** Resolves once `check` holds. */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(10)) if (Date.now() > end) throw new Error("condition not met in time");
}

/** How a TLS handshake with apid ends: the protocol agreed, or the error. */
function handshake(port: number, cert: CertAndKey, o: { maxVersion?: "TLSv1.2" | "TLSv1.3" }): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: pki.ca.crt, cert: cert.crt, key: cert.key, ALPNProtocols: ["h2"], ...o });
    s.once("secureConnect", () => {
      resolve(`${s.getProtocol()} ${s.alpnProtocol}`);
      s.destroy();
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

t.test("speaks TLS 1.3 only", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  t.equal(await handshake(stack.port, pki.clients.admin, {}), "TLSv1.3 h2");
  t.match(await handshake(stack.port, pki.clients.admin, { maxVersion: "TLSv1.2" }), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
});

t.test("maintenance mode: only ApplyConfiguration and Version, without a client certificate", async (t) => {
  const stack = await startStack(t, pki, "maintenance");
  const client = apidClient(t, stack.port, pki.maintenance);
  for (const m of MachineService.methods) {
    const out = m.methodKind === "server_streaming" ? await callStream(client, machine(m.name)) : await callUnary(client, machine(m.name));
    const reached = stack.arrived.includes(machine(m.name));
    if (m.name === "Version" || m.name === "ApplyConfiguration") t.ok(reached && out.code !== status.PERMISSION_DENIED, `${m.name} is served`);
    else {
      t.same([out.code, out.details], [status.PERMISSION_DENIED, "maintenance mode: only ApplyConfiguration and Version are served; apply a config first"], `${m.name} is denied`);
      t.notOk(reached, `${m.name} never reaches machined`);
    }
  }
  const health = await callUnary(client, "/grpc.health.v1.Health/Check");
  t.equal(health.code, status.PERMISSION_DENIED, "health is not served in maintenance mode");
});

t.test("maintenance mode applies a config through to machined", async (t) => {
  const stack = await startStack(t, pki, "maintenance");
  const client = apidClient(t, stack.port, pki.maintenance);
  const req = Buffer.from(toBinary(ApplyConfigurationRequestSchema, create(ApplyConfigurationRequestSchema, { data: new TextEncoder().encode("machine: {hostname: x}") })));
  t.equal((await callUnary(client, machine("ApplyConfiguration"), req)).code, status.OK);
  t.equal(stack.machine.applied[0]?.yaml, "machine: {hostname: x}");
});

t.test("apid marks each forwarded call with its mode, overwriting a mark the client forged", async (t) => {
  const req = Buffer.from(toBinary(ApplyConfigurationRequestSchema, create(ApplyConfigurationRequestSchema, { data: new TextEncoder().encode("machine: {}") })));
  const maintenance = await startStack(t, pki, "maintenance");
  const forged = { [apidModeHeader]: "mtls" };
  t.equal((await callUnary(apidClient(t, maintenance.port, pki.maintenance), machine("ApplyConfiguration"), req, forged)).code, status.OK);
  t.same(maintenance.machine.applied.map((r) => r.maintenance), [true], "maintenance, though the client said mtls");
  const mtls = await startStack(t, pki, "mtls");
  const admin = apidClient(t, mtls.port, pki.ca, pki.clients.admin);
  t.equal((await callUnary(admin, machine("ApplyConfiguration"), req, { [apidModeHeader]: "maintenance" })).code, status.OK);
  t.same(mtls.machine.applied.map((r) => r.maintenance), [false], "mtls, though the client said maintenance");
});

t.test("maintenance mode ends with the first applied config: later calls are refused before reaching machined", async (t) => {
  const stack = await startStack(t, pki, "maintenance");
  const client = apidClient(t, stack.port, pki.maintenance);
  const apply = (dryRun: boolean) =>
    Buffer.from(toBinary(ApplyConfigurationRequestSchema, create(ApplyConfigurationRequestSchema, { data: new TextEncoder().encode("machine: {}"), dryRun })));
  t.equal((await callUnary(client, machine("ApplyConfiguration"), apply(true))).code, status.OK, "a dry run");
  t.equal((await callUnary(client, machine("ApplyConfiguration"), apply(false))).code, status.OK, "the first config");
  const late = await callUnary(client, machine("ApplyConfiguration"), apply(false));
  t.same([late.code, late.details], [status.FAILED_PRECONDITION, "the machine is configured: maintenance mode has ended; connect with mTLS (a kilnconfig signed by the machine CA)"]);
  t.equal((await callUnary(client, machine("Version"))).code, status.FAILED_PRECONDITION, "Version too");
  t.equal(stack.machine.applied.length, 2, "the late apply never reached machined");
});

t.test("a reader never receives a private key or token: every response body searched", async (t) => {
  const secrets = { machineToken: "abcdef.0123456789abcdef", clusterToken: "zyxwvu.9876543210zyxwvu" };
  const stack = await startStack(t, pki, "mtls");
  stack.machine.config = worker({ ca: testCa, token: secrets.machineToken }, { cluster: { ca: testCa, token: secrets.clusterToken } });
  const pem = Buffer.from(testCa.key, "base64").toString();
  const needles = [testCa.key, pem, pem.split("\n")[1]!, secrets.machineToken, secrets.clusterToken];
  const found = (bodies: Buffer[]) => needles.filter((n) => bodies.some((b) => b.includes(n)));
  const bodiesOf = async (who: CertAndKey) => {
    const client = apidClient(t, stack.port, pki.ca, who);
    const out = [];
    for (const m of MachineService.methods) out.push(m.methodKind === "server_streaming" ? await callStream(client, machine(m.name)) : await callUnary(client, machine(m.name)));
    return out.flatMap((o) => o.messages);
  };
  t.same(found(await bodiesOf(pki.clients.reader)), [], "reader: nothing");
  t.same(found(await bodiesOf(pki.clients.operator)), [], "operator: nothing either");
  t.same(found(await bodiesOf(pki.clients.admin)), [testCa.key, secrets.machineToken, secrets.clusterToken], "admin: the whole config (so the search does find them)");
  const res = fromBinary(GetConfigurationResponseSchema, (await callUnary(apidClient(t, stack.port, pki.ca, pki.clients.reader), machine("GetConfiguration"))).messages[0]!);
  t.match(Buffer.from(res.messages[0]!.data).toString(), /token: "?\*{6}"?/, "the reader sees that there is a token");
});

t.test("health: SERVING while machined answers, NOT_SERVING after, NOT_FOUND for unknown services", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const client = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  const check = async (service: string) => {
    const req = Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));
    const out = await callUnary(client, "/grpc.health.v1.Health/Check", req);
    return out.code === status.OK ? Serving[fromBinary(HealthCheckResponseSchema, out.messages[0]!).status] : status[out.code];
  };
  t.equal(await check(""), "SERVING");
  t.equal(await check("kiln.machine.v1.MachineService"), "SERVING");
  t.equal(await check("no.such.Service"), "NOT_FOUND");
  const watch = await callStream(client, "/grpc.health.v1.Health/Watch", Buffer.alloc(0), {}, 500);
  t.same([status[watch.code], watch.messages.map((m) => Serving[fromBinary(HealthCheckResponseSchema, m).status])], ["DEADLINE_EXCEEDED", ["SERVING"]]);
  await stack.stopMachined();
  t.equal(await check(""), "NOT_SERVING");
  const anonymous = await callUnary(apidClient(t, stack.port, pki.ca), "/grpc.health.v1.Health/Check");
  t.equal(anonymous.code, status.UNAVAILABLE, "a client certificate is needed");
});

/** Runs reflection requests on one stream; the answers in order. */
function reflect(client: GrpcClient, path: string, requests: Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1][]): Promise<ServerReflectionResponse[]> {
  return new Promise((resolve, reject) => {
    const out: ServerReflectionResponse[] = [];
    const call = client.makeBidiStreamRequest(
      path,
      (r: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, r)),
      (b: Buffer) => fromBinary(ServerReflectionResponseSchema, b),
      new Metadata(),
    );
    call.on("data", (r: ServerReflectionResponse) => out.push(r));
    call.on("error", reject);
    call.on("end", () => resolve(out));
    for (const r of requests) call.write(create(ServerReflectionRequestSchema, r));
    call.end();
  });
}

t.test("reflection (v1 and v1alpha) lists the services and gives complete descriptors", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const client = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  for (const version of ["v1", "v1alpha"]) {
    const path = `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`;
    const [list, symbol, file, missing] = await reflect(client, path, [
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "kiln.machine.v1.MachineService.Version" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
    ]);
    const names = list?.messageResponse.case === "listServicesResponse" ? list.messageResponse.value.service.map((s) => s.name) : [];
    t.same(names.sort(), ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "kiln.machine.v1.MachineService"], version);
    const protos = symbol?.messageResponse.case === "fileDescriptorResponse" ? symbol.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b)) : [];
    t.same(protos.map((p) => p.name).sort(), ["google/protobuf/duration.proto", "google/protobuf/timestamp.proto", "kiln/machine/v1/machine.proto"]);
    // The answer lists the file asked for first; a FileDescriptorSet wants imports first.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...protos].reverse() }));
    t.equal(registry.getService("kiln.machine.v1.MachineService")?.methods.length, MachineService.methods.length, "the descriptors build");
    t.equal(file?.messageResponse.case, "fileDescriptorResponse");
    t.same(missing?.messageResponse.case === "errorResponse" && missing.messageResponse.value.errorCode, status.NOT_FOUND);
  }
  await t.rejects(reflect(apidClient(t, stack.port, pki.ca), "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", []), { code: status.UNAVAILABLE });
});

t.test("a follow stream passes through, and the client's cancel reaches machined", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const client = typedClient(t, stack, pki.clients.reader);
  const seen: string[] = [];
  setTimeout(() => stack.machine.pushLog("containerd", "line 4\n"), 50);
  for await (const chunk of client.logs({ id: "containerd", follow: true, tailLines: -1 })) {
    seen.push(Buffer.from(chunk.data).toString());
    if (seen.length === 4) break;
  }
  t.same(seen, ["line 1\n", "line 2\n", "line 3\n", "line 4\n"]);
  await eventually(() => stack.machine.aborted.includes("logs containerd"));
  t.pass("machined's stream was cancelled");
});

t.test("the caller's deadline is carried to machined", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const client = typedClient(t, stack, pki.clients.reader);
  const started = Date.now();
  await t.rejects(async () => {
    for await (const _ of client.logs({ id: "containerd", follow: true, tailLines: 0 }, { timeoutMs: 300 }));
  }, { code: status.DEADLINE_EXCEEDED });
  t.ok(Date.now() - started < 2000);
  await eventually(() => stack.machine.aborted.includes("logs containerd"));
  t.pass("machined's stream ended at the deadline");
});

t.test("errors from machined keep their code and message", async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const client = typedClient(t, stack, pki.clients.operator);
  await t.rejects(client.serviceStart({ id: "nope" }), { code: status.NOT_FOUND, message: 'service "nope" not found' });
});

t.test("fan-out", async (t) => {
  const a = await startStack(t, pki, "mtls", "node-a");
  const b = await startStack(t, pki, "mtls", "node-b");
  const nodeA = `127.0.0.1:${a.port}`;
  const nodeB = `127.0.0.1:${b.port}`;
  const reader = apidClient(t, a.port, pki.ca, pki.clients.reader);

  t.test("merges unary answers in the order named; a failed node gives an error message", async (t) => {
    const out = await callUnary(reader, machine("ServiceList"), Buffer.alloc(0), { nodes: `${nodeB}, ${nodeA},127.0.0.1:1` });
    t.equal(out.code, status.OK);
    const res = fromBinary(ServiceListResponseSchema, out.messages[0]!);
    t.same(res.messages.map((m) => m.metadata?.node), [nodeB, nodeA, "127.0.0.1:1"]);
    t.same(res.messages.map((m) => m.services.length), [2, 2, 0]);
    t.match(res.messages[2]?.metadata?.error, /^UNAVAILABLE: /);
    t.ok(b.arrived.includes(machine("ServiceList")));
  });

  t.test("interleaves streams, each message tagged with its node", async (t) => {
    const req = Buffer.from(toBinary(LogsRequestSchema, create(LogsRequestSchema, { id: "containerd", tailLines: -1 })));
    const out = await callStream(reader, machine("Logs"), req, { nodes: `${nodeA},${nodeB}` });
    t.equal(out.code, status.OK);
    const msgs = out.messages.map((m) => fromBinary(LogsResponseSchema, m));
    t.same(msgs.filter((m) => m.metadata?.node === nodeA).length, 3);
    t.same(msgs.filter((m) => m.metadata?.node === nodeB).length, 3);
  });

  t.test("the caller's role travels: an operator reboots the other node, a reader is stopped at the first", async (t) => {
    const operator = apidClient(t, a.port, pki.ca, pki.clients.operator);
    const ok = await callUnary(operator, machine("Reboot"), Buffer.alloc(0), { nodes: nodeB });
    t.same(fromBinary(RebootResponseSchema, ok.messages[0]!).messages.map((m) => [m.metadata?.node, m.metadata?.error]), [[nodeB, ""]]);
    t.same(b.machine.calls, ["reboot default false"]);
    const denied = await callUnary(reader, machine("Reboot"), Buffer.alloc(0), { nodes: nodeB });
    t.equal(denied.code, status.PERMISSION_DENIED);
    t.same(b.machine.calls, ["reboot default false"], "not rebooted again");
  });

  t.test("a reader's configuration from another node is redacted too", async (t) => {
    b.machine.config = worker({ ca: testCa, token: "abcdef.0123456789abcdef" });
    const out = await callUnary(reader, machine("GetConfiguration"), Buffer.alloc(0), { nodes: nodeB });
    t.equal(out.messages[0]!.indexOf(testCa.key), -1);
    t.equal(out.messages[0]!.indexOf("abcdef.0123456789abcdef"), -1);
  });

  t.test("kiln-role is trusted only from an os:impersonator certificate, and never fans out again", async (t) => {
    const apid = apidClient(t, b.port, pki.ca, pki.clients.impersonator);
    const asReader = await callUnary(apid, machine("Shutdown"), Buffer.alloc(0), { "kiln-role": "os:reader" });
    t.same([asReader.code, asReader.details], [status.PERMISSION_DENIED, `role os:reader may not call ${machine("Shutdown")} (needs os:operator)`]);
    const admin = apidClient(t, b.port, pki.ca, pki.clients.admin);
    const claimed = await callUnary(apidClient(t, b.port, pki.ca, pki.clients.reader), machine("Shutdown"), Buffer.alloc(0), { "kiln-role": "os:admin" });
    t.equal(claimed.code, status.PERMISSION_DENIED, "a reader cannot claim a role");
    const local = await callUnary(apid, machine("ServiceList"), Buffer.alloc(0), { "kiln-role": "os:admin", nodes: "127.0.0.1:1" });
    t.same(fromBinary(ServiceListResponseSchema, local.messages[0]!).messages.map((m) => m.metadata?.node), ["node-b"], "answered locally");
    t.equal((await callUnary(admin, machine("Version"))).code, status.OK);
  });
});
