// Fan-out's bounds: the nodes one call may name (how many, and only peers),
// and the channels to other nodes apid keeps (closed when idle, at most so many).
import { create, toBinary } from "@bufbuild/protobuf";
import { Metadata, status } from "@grpc/grpc-js";
import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemotes, nodesOf } from "../../src/apid/fan-out.js";
import { peersFile } from "../../src/apid/peers-file.js";
import { peersFileText } from "../../src/machinery/peers.js";
import { LogsRequestSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { maxFanOutNodes } from "../../src/machinery/api-limits.js";
import { issueServerCert } from "../../src/pki/certs.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callUnary, loopbackPeers, startStack } from "./fixtures/stack.js";

const machine = (name: string) => `/kiln.machine.v1.MachineService/${name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let pki: TestPki;

t.before(async () => {
  pki = await createTestPki();
});

/** apid's client TLS, as the impersonator certificate. */
const clientTls = () => ({ cert: Buffer.from(pki.clients.impersonator.crt), key: Buffer.from(pki.clients.impersonator.key), ca: Buffer.from(pki.ca.crt) });

/** A call's options: a deadline and a signal. */
const forward = (signal = new AbortController().signal) => ({ deadline: Date.now() + 2000, signal, metadata: { "kiln-role": "os:reader" } });

/** Resolves once `check` holds. */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(10)) if (Date.now() > end) throw new Error("condition not met in time");
}

t.test(`a call naming more than ${maxFanOutNodes} nodes is refused at once, naming the limit`, async (t) => {
  const stack = await startStack(t, pki, "mtls");
  const reader = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  const nodes = Array.from({ length: maxFanOutNodes + 1 }, (_, i) => `127.0.0.1:${i + 1}`).join(",");
  const started = Date.now();
  const out = await callUnary(reader, machine("Version"), Buffer.alloc(0), { nodes });
  t.same([out.code, out.details], [status.INVALID_ARGUMENT, `nodes names ${maxFanOutNodes + 1} nodes; the limit is ${maxFanOutNodes} nodes a call`]);
  t.ok(Date.now() - started < 1000, "at once");
  t.notOk(stack.arrived.includes(machine("Version")), "nothing was forwarded");
});

t.test("a node named twice, or by its target with apid's port, is called once", async (t) => {
  const md = new Metadata();
  md.set("nodes", "a, a:50000,b");
  md.add("nodes", "a,,b");
  t.same(nodesOf(md), ["a", "b"]);
});

t.test("a channel to another node is closed once idle", async (t) => {
  const remotes = createRemotes(clientTls(), loopbackPeers, { maxChannels: 4, idleMs: 100 });
  t.teardown(() => remotes.close());
  await t.rejects(remotes.get("127.0.0.1:1").unary(machine("Version"), Buffer.alloc(0), forward()), { code: status.UNAVAILABLE });
  t.same(remotes.open(), ["127.0.0.1:1"]);
  await eventually(() => remotes.open().length === 0);
  t.pass("closed after 100 ms idle");
});

t.test("at most maxChannels stay open: the least recently used idle one goes first", async (t) => {
  const remotes = createRemotes(clientTls(), loopbackPeers, { maxChannels: 2, idleMs: 60_000 });
  t.teardown(() => remotes.close());
  const call = (node: string) => remotes.get(node).unary(machine("Version"), Buffer.alloc(0), forward()).catch(() => undefined);
  for (const node of ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:3"]) await call(node);
  t.same(remotes.open(), ["127.0.0.1:1", "127.0.0.1:3"]);
});

t.test("a channel with a stream under way stays open past the idle time, and is closed after it ends", async (t) => {
  const b = await startStack(t, pki, "mtls", "node-b");
  const remotes = createRemotes(clientTls(), loopbackPeers, { maxChannels: 1, idleMs: 50 });
  t.teardown(() => remotes.close());
  const nodeB = `127.0.0.1:${b.port}`;
  const ac = new AbortController();
  const req = Buffer.from(toBinary(LogsRequestSchema, create(LogsRequestSchema, { id: "containerd", follow: true, tailLines: -1 })));
  const it = remotes.get(nodeB).stream(machine("Logs"), req, forward(ac.signal))[Symbol.asyncIterator]();
  await it.next();
  await sleep(200);
  t.same(remotes.open(), [nodeB], "still open");
  await t.rejects(remotes.get("127.0.0.1:1").unary(machine("Version"), Buffer.alloc(0), forward()), { code: status.RESOURCE_EXHAUSTED }, "no room for another");
  ac.abort();
  await it.return?.();
  await eventually(() => remotes.open().length === 0);
  t.pass("closed once the stream ended");
});

t.test("only peers are called: any other node is refused before any is reached, and the list applies live", async (t) => {
  const b = await startStack(t, pki, "mtls", "node-b");
  const dir = mkdtempSync(join(tmpdir(), "kiln-peers-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "peers");
  const nodeB = `127.0.0.1:${b.port}`;
  writeFileSync(file, peersFileText([nodeB]));
  // The real list, as apid's main reads it; this machine's own networks never include loopback.
  const a = await startStack(t, pki, "mtls", "node-a", undefined, undefined, {}, peersFile(file, () => [{ cidr: "127.0.0.1/8", internal: true }]));
  const reader = apidClient(t, a.port, pki.ca, pki.clients.reader);
  const ok = await callUnary(reader, machine("Hostname"), Buffer.alloc(0), { nodes: nodeB });
  t.equal(ok.code, status.OK, "the peer answers");
  t.ok(b.arrived.includes(machine("Hostname")), "node-b was called");

  const beforeB = b.arrived.length;
  for (const probe of ["127.0.0.1:22", "127.0.0.1", "localhost:50000", `${nodeB},127.0.0.1:6443`, "10.0.0.1"]) {
    const out = await callUnary(reader, machine("Hostname"), Buffer.alloc(0), { nodes: probe });
    t.equal(out.code, status.PERMISSION_DENIED, `${probe}: refused`);
    t.match(out.details, /is not a peer of this machine \(allowed: machine\.api\.peers \(127\.0\.0\.1:\d+\)\); an admin may add it to machine\.api\.peers/);
  }
  t.equal(b.arrived.length, beforeB, "a call naming a non-peer reaches no node, not even the peer it also names");
  const junk = await callUnary(reader, machine("Hostname"), Buffer.alloc(0), { nodes: "a b" });
  t.same([junk.code, junk.details], [status.INVALID_ARGUMENT, 'nodes: "a b" is not a node: expected an address or a host name, with a port or without']);

  writeFileSync(file, peersFileText([]));
  const none = await callUnary(reader, machine("Hostname"), Buffer.alloc(0), { nodes: nodeB });
  t.same([none.code, /allowed: machine\.api\.peers, which is empty/.test(none.details)], [status.PERMISSION_DENIED, true], "an empty list: no fan-out, from the next call on");
  rmSync(file);
  const gone = await callUnary(reader, machine("Hostname"), Buffer.alloc(0), { nodes: nodeB });
  t.equal(gone.code, status.PERMISSION_DENIED, "no file: no peers (fails closed)");
});

/** A TLS HTTP/2 server on loopback serving `cert` that answers every call with status UNIMPLEMENTED, and records the server name each connection asked for. */
async function tlsServer(t: { teardown(fn: () => unknown): void }, cert: { crt: string; key: string }) {
  const names: string[] = [];
  const server = http2.createSecureServer({ cert: cert.crt, key: cert.key, ca: pki.ca.crt, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" });
  server.on("secureConnection", (s: TLSSocket) => names.push(String((s as TLSSocket & { servername?: string | false }).servername)));
  server.on("stream", (stream) => stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(status.UNIMPLEMENTED), "grpc-message": "here" }, { endStream: true }));
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.teardown(() => server.close());
  return { port: (server.address() as AddressInfo).port, names };
}

t.test("another node's apid is verified against the address dialled, which is never sent as the TLS server name", async (t) => {
  const named = await tlsServer(t, pki.server);
  const unnamed = await tlsServer(t, await issueServerCert(pki.ca, { commonName: "node-z", sans: ["node-z.example"] }));
  const remotes = createRemotes(clientTls(), loopbackPeers);
  t.teardown(() => remotes.close());
  const call = async (port: number) => {
    try {
      await remotes.get(`127.0.0.1:${port}`).unary(machine("Version"), Buffer.alloc(0), forward());
    } catch (err) {
      return err as { code: number; details?: string; message: string };
    }
    throw new Error("the call did not fail");
  };
  const reached = await call(named.port);
  t.same([reached.code, reached.details], [status.UNIMPLEMENTED, "here"], "a certificate naming 127.0.0.1 is taken");
  t.same(named.names, ["kiln-apid"], "SNI is a name, not the IP (RFC 6066)");
  const refused = await call(unnamed.port);
  t.equal(refused.code, status.UNAVAILABLE, "a certificate of the machine CA that does not name 127.0.0.1 is refused");
  t.match(refused.details ?? refused.message, /127\.0\.0\.1|altnames|IP/);
});
