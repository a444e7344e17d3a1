// machined's API on several sockets: the main one root's (gRPC), apid's one
// owned by apid's user and spoken over the link; both 0600.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { credentials } from "@grpc/grpc-js";
import t from "tap";
import { createLinkUpstream } from "../../src/apid/link-upstream.js";
import { ApplyConfigurationRequestSchema, MachineService, VersionResponseSchema } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../src/grpc/client.js";
import { apidModeHeader } from "../../src/machinery/apid.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";

const versionPath = `/${MachineService.typeName}/Version`;
const applyPath = `/${MachineService.typeName}/ApplyConfiguration`;
const linkCall = (metadata: Record<string, string> = {}) => ({ deadline: Date.now() + 10_000, signal: new AbortController().signal, metadata });

t.test("serves the same API on each socket, 0600, the second handed to its owner", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sockets-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(dir, "machined", "machined.sock");
  const forApid = join(dir, "apid", "machined.sock");
  const owner = { uid: process.getuid!(), gid: process.getgid!() };
  const api = await startMachineApi(createFakeMachine(), [{ path: main }, { path: forApid, owner, apid: true }], { node: () => "n" });
  for (const p of [main, forApid]) {
    t.equal((statSync(p).mode & 0o777).toString(8), "600", `${p} is 0600`);
    t.equal((statSync(join(p, "..")).mode & 0o777).toString(8), "700", "in a 0700 directory");
  }
  const client = createClient(MachineService, `unix://${main}`, credentials.createInsecure());
  t.equal((await client.version({})).messages[0]?.tag, "0.1.0", "gRPC on root's socket");
  client.close();
  const link = createLinkUpstream(forApid);
  const answer = await link.unary(versionPath, Buffer.alloc(0), linkCall());
  t.equal(fromBinary(VersionResponseSchema, answer).messages[0]?.tag, "0.1.0", "the link on apid's");
  link.close();
  t.same([statSync(forApid).uid, statSync(join(forApid, "..")).uid], [owner.uid, owner.uid]);
  await api.close();
  t.throws(() => statSync(forApid), { code: "ENOENT" }, "both sockets removed on close");
  t.throws(() => statSync(main), { code: "ENOENT" });
});

t.test("believes apid's maintenance mark on apid's socket only", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sockets-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, "machined", "machined.sock");
  const forApid = join(dir, "apid", "machined.sock");
  const machine = createFakeMachine();
  const api = await startMachineApi(machine, [{ path: root }, { path: forApid, apid: true }], { node: () => "n" });
  t.teardown(() => api.close());
  const mark = { [apidModeHeader]: "maintenance" };
  const data = new TextEncoder().encode("machine: {}");
  const client = createClient(MachineService, `unix://${root}`, credentials.createInsecure());
  await client.applyConfiguration({ data }, { metadata: mark });
  await client.applyConfiguration({ data });
  client.close();
  const link = createLinkUpstream(forApid);
  const request = Buffer.from(toBinary(ApplyConfigurationRequestSchema, create(ApplyConfigurationRequestSchema, { data })));
  await link.unary(applyPath, request, linkCall(mark));
  await link.unary(applyPath, request, linkCall());
  link.close();
  t.same(
    machine.applied.map((r) => r.maintenance),
    [false, false, true, false],
    "root's socket ignores the mark; apid's believes it, and no mark means not maintenance",
  );
});
