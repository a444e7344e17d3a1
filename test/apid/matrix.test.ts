// The authorization matrix against a real apid over TCP: every MachineService
// RPC × every kind of caller → exactly allowed (the call reaches machined) or
// denied (PERMISSION_DENIED naming the role, or UNAVAILABLE when TLS turns
// the certificate away before any call is made).
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import t from "tap";
import { status } from "@grpc/grpc-js";
import { type ClientName, createTestPki } from "./fixtures/pki.js";
import { apidClient, callClientStream, callStream, callUnary, type Outcome, startStack } from "./fixtures/stack.js";

type Role = "os:reader" | "os:operator" | "os:admin";

/** What the issue asks for, written out here rather than read from src/apid/authorization.ts. */
const expected: Record<string, Role> = {
  Version: "os:reader",
  ServiceList: "os:reader",
  Logs: "os:reader",
  Events: "os:reader",
  Sequences: "os:reader",
  GetConfiguration: "os:reader",
  Dmesg: "os:reader",
  Memory: "os:reader",
  Processes: "os:reader",
  Mounts: "os:reader",
  Links: "os:reader",
  Addresses: "os:reader",
  Routes: "os:reader",
  Hostname: "os:reader",
  Time: "os:reader",
  Containers: "os:reader",
  Images: "os:reader",
  ServiceStart: "os:operator",
  ServiceStop: "os:operator",
  ServiceRestart: "os:operator",
  Reboot: "os:operator",
  Shutdown: "os:operator",
  ApplyConfiguration: "os:admin",
  List: "os:admin",
  Read: "os:admin",
  GenerateClientConfiguration: "os:admin",
  Reset: "os:admin",
  UpgradeUpload: "os:admin",
  Upgrade: "os:admin",
  Rollback: "os:admin",
  Bootstrap: "os:admin",
  Kubeconfig: "os:admin",
  ImageImport: "os:admin",
};

const rank: Record<Role, number> = { "os:reader": 0, "os:operator": 1, "os:admin": 2 };
const callers: ClientName[] = ["none", "otherCa", "expired", "reader", "operator", "admin"];

/** The outcome a caller must get for an RPC. */
function outcomeFor(caller: ClientName, rpc: string): "tls" | "allowed" | Role {
  if (caller === "none" || caller === "otherCa" || caller === "expired") return "tls";
  const role = `os:${caller}` as Role;
  const need = expected[rpc]!;
  return rank[role] >= rank[need] ? "allowed" : role;
}

t.test("every MachineService RPC has an expected rule in this test", async (t) => {
  t.same(MachineService.methods.map((m) => m.name).sort(), Object.keys(expected).sort());
});

t.test("the matrix: every RPC × no cert, another CA, expired, reader, operator, admin", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  for (const caller of callers) {
    const client = apidClient(t, stack.port, pki.ca, caller === "none" ? undefined : pki.clients[caller]);
    for (const m of MachineService.methods) {
      const path = `/kiln.machine.v1.MachineService/${m.name}`;
      const before = stack.arrived.length;
      const call = { unary: callUnary, server_streaming: callStream, client_streaming: callClientStream, bidi_streaming: callStream }[m.methodKind];
      const out: Outcome = await call(client, path);
      const reached = stack.arrived.slice(before).includes(path);
      const want = outcomeFor(caller, m.name);
      const name = `${caller} → ${m.name}`;
      if (want === "tls") {
        t.equal(out.code, status.UNAVAILABLE, `${name}: refused at TLS (${out.details.slice(0, 80)})`);
        t.notOk(reached, `${name}: never reaches machined`);
      } else if (want === "allowed") {
        t.ok(reached, `${name}: reaches machined (${status[out.code]} ${out.details.slice(0, 60)})`);
        t.not(out.code, status.PERMISSION_DENIED, `${name}: not denied`);
      } else {
        t.same([out.code, out.details], [status.PERMISSION_DENIED, `role ${want} may not call ${path} (needs ${expected[m.name]})`], `${name}: denied`);
        t.notOk(reached, `${name}: never reaches machined`);
      }
    }
  }
});

t.test("a certificate for servers only (no clientAuth) is refused at TLS", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  const out = await callUnary(apidClient(t, stack.port, pki.ca, pki.clients.serverAuthOnly), "/kiln.machine.v1.MachineService/Version");
  t.equal(out.code, status.UNAVAILABLE);
  t.same(stack.arrived, []);
});

t.test("the calls that reach machined are the fake's: reboot and service actions really run there", async (t) => {
  const pki = await createTestPki();
  const stack = await startStack(t, pki, "mtls");
  const operator = apidClient(t, stack.port, pki.ca, pki.clients.operator);
  t.equal((await callUnary(operator, "/kiln.machine.v1.MachineService/Reboot")).code, status.OK);
  t.same(stack.machine.calls, ["reboot default false"]);
});
