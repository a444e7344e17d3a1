// The client certificate is read once per connection, over real mTLS on
// loopback: later calls on the connection reuse it, another connection
// reads its own, and a call whose session cannot be found reads it per call.
import { TLSSocket } from "node:tls";
import { status } from "@grpc/grpc-js";
import t from "tap";
import { peerCertificate, sessionOf } from "../../src/apid/peer.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callStream, callUnary, startStack } from "./fixtures/stack.js";

const version = "/kiln.machine.v1.MachineService/Version";
let pki: TestPki;

t.before(async () => {
  pki = await createTestPki();
});

/** Counts the server's TLSSocket.getPeerCertificate calls (grpc-js's getAuthContext makes them; the client's own TLS check is not counted) until the test ends. */
function countPeerCertificateReads(t: { teardown(fn: () => unknown): void }): () => number {
  const original = TLSSocket.prototype.getPeerCertificate;
  let reads = 0;
  TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...args: Parameters<TLSSocket["getPeerCertificate"]>) {
    if (new Error().stack?.includes("getAuthContext")) reads++;
    return original.apply(this, args);
  } as TLSSocket["getPeerCertificate"];
  t.teardown(() => {
    TLSSocket.prototype.getPeerCertificate = original;
  });
  return () => reads;
}

t.test("the client certificate is read on a connection's first call only; another connection reads its own", async (t) => {
  const stack = await startStack(t, pki, "mtls", "node-a", createFakeMachine());
  const reads = countPeerCertificateReads(t);
  const reader = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  for (let i = 0; i < 5; i++) t.equal((await callUnary(reader, version)).code, status.OK);
  t.equal((await callStream(reader, "/grpc.health.v1.Health/Watch", Buffer.alloc(0), {}, 300)).code, status.DEADLINE_EXCEEDED, "a stream on the same connection");
  t.equal(reads(), 1, "six calls, one read");
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  t.equal((await callUnary(admin, version)).code, status.OK);
  t.equal((await callUnary(admin, "/kiln.machine.v1.MachineService/Reset")).code, status.OK, "the admin connection has the admin's role, not the reader's");
  t.equal((await callUnary(reader, "/kiln.machine.v1.MachineService/Reset")).code, status.PERMISSION_DENIED, "and the reader still the reader's");
  t.equal(reads(), 2);
});

t.test("a call whose session cannot be found has its certificate read every time", async (t) => {
  let reads = 0;
  const getAuthContext = () => {
    reads++;
    return {};
  };
  const call = { getAuthContext };
  t.equal(sessionOf(call), undefined);
  peerCertificate(call);
  peerCertificate(call);
  t.equal(reads, 2);
  const closed = { call: { stream: { session: { closed: true } } }, getAuthContext };
  t.equal(sessionOf(closed), undefined, "a closed session is not a key");
});
