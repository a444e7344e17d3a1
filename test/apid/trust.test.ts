// apid's trust port (src/apid/trust.ts) in front of a real machined API
// socket: it forwards the one RPC, refuses calls past its in-flight limit at
// once instead of queueing them, and refuses oversized requests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import t, { type Test } from "tap";
import { startTrust } from "../../src/apid/trust.js";
import { createLanes } from "../../src/apid/lanes.js";
import { TrustService } from "../../src/gen/kiln/trust/v1/trust_pb.js";
import { createClient } from "../../src/grpc/client.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine, fakeMachineToken } from "../machined/api/fixtures/fake-machine.js";
import { createTestPki } from "./fixtures/pki.js";

/** machined's socket with a fake machine whose signing waits for `gate`, and the trust port in front of it. */
async function trustStack(t: Test, limits: { inFlight?: number; perPeer?: number; requestBytes?: number }, gate: Promise<void> = Promise.resolve()) {
  const dir = mkdtempSync(join(tmpdir(), "kiln-trust-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fake = createFakeMachine();
  const sign = fake.issueMachineCertificate;
  const peers: string[] = [];
  const machine = {
    ...fake,
    issueMachineCertificate: async (req: { token: string; csr: string; peer?: string }) => {
      peers.push(req.peer ?? "");
      await gate;
      return sign(req);
    },
  };
  const api = await startMachineApi(machine, [{ path: join(dir, "m.sock"), apid: true }], { closeGraceMs: 100 });
  const machined = createLanes(join(dir, "m.sock"));
  const pki = await createTestPki();
  const trust = await startTrust({ tls: { cert: Buffer.from(pki.server.crt), key: Buffer.from(pki.server.key) }, listen: [["127.0.0.1:0"]], machined, limits });
  const client = createClient(TrustService, `127.0.0.1:${trust.ports[0]}`, credentials.createSsl(Buffer.from(pki.ca.crt)));
  t.teardown(async () => {
    client.close();
    await trust.close(100);
    machined.close();
    await api.close();
  });
  return { client, calls: fake.calls, peers };
}

t.test("forwards the request to machined and its answer back, with TLS and no client certificate", async (t) => {
  const { client, calls } = await trustStack(t, {});
  t.same(await client.certificate({ token: fakeMachineToken, csr: "CSR" }), { $typeName: "kiln.trust.v1.CertificateResponse", certificate: "CERT FOR CSR", ca: "CA\n" });
  await t.rejects(client.certificate({ token: "wrong", csr: "CSR" }), { code: status.PERMISSION_DENIED, message: "the machine token does not match this cluster's" });
  t.same(calls, [`issueMachineCertificate ${fakeMachineToken}`, "issueMachineCertificate wrong"]);
});

t.test("refuses a call past the in-flight limit at once, and takes calls again once one ends", async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { client } = await trustStack(t, { inFlight: 2, perPeer: 2 }, gate);
  const held = [client.certificate({ token: fakeMachineToken, csr: "a" }), client.certificate({ token: fakeMachineToken, csr: "b" })];
  await new Promise((r) => setTimeout(r, 200));
  await t.rejects(client.certificate({ token: fakeMachineToken, csr: "c" }, { timeoutMs: 2000 }), {
    code: status.RESOURCE_EXHAUSTED,
    message: "this control plane is answering 2 certificate requests already; try again shortly",
  });
  open();
  t.same((await Promise.all(held)).map((r) => r.certificate), ["CERT FOR a", "CERT FOR b"]);
  t.equal((await client.certificate({ token: fakeMachineToken, csr: "d" })).certificate, "CERT FOR d");
});

t.test("one address gets one call at a time", async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { client } = await trustStack(t, {}, gate);
  const held = client.certificate({ token: fakeMachineToken, csr: "a" });
  await new Promise((r) => setTimeout(r, 200));
  await t.rejects(client.certificate({ token: fakeMachineToken, csr: "b" }, { timeoutMs: 2000 }), {
    code: status.RESOURCE_EXHAUSTED,
    message: "this control plane is answering a certificate request from 127.0.0.1 already; try again shortly",
  });
  open();
  t.equal((await held).certificate, "CERT FOR a");
});

t.test("tells machined the address the call came from, whatever the caller sends", async (t) => {
  const { client, peers } = await trustStack(t, {});
  await client.certificate({ token: fakeMachineToken, csr: "a" }, { metadata: { "kiln-trust-peer": "10.9.9.9" } });
  t.same(peers, ["127.0.0.1"]);
});

t.test("refuses a request larger than it reads", async (t) => {
  const { client, calls } = await trustStack(t, { requestBytes: 1024 });
  await t.rejects(client.certificate({ token: fakeMachineToken, csr: "x".repeat(4096) }), { code: status.RESOURCE_EXHAUSTED });
  t.same(calls, [], "machined never saw it");
});
