// machine.api.deniedCertificates as apid enforces it, over real mTLS on
// loopback: a certificate on the list (by fingerprint or serial) is refused
// on its next call, without a restart, and accepted again once taken off.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import t from "tap";
import { deniedCertificatesFile } from "../../src/apid/denied-certificates.js";
import { writeFileAtomic } from "../../src/machined/atomic-write.js";
import { deniedFileText, parseDeniedEntry } from "../../src/pki/denied-certificates.js";
import { fingerprint } from "../../src/pki/fingerprint.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createTestPki, type TestPki } from "./fixtures/pki.js";
import { apidClient, callStream, callUnary, startStack } from "./fixtures/stack.js";

const version = "/kiln.machine.v1.MachineService/Version";
const healthCheck = "/grpc.health.v1.Health/Check";
let pki: TestPki;

t.before(async () => {
  pki = await createTestPki();
});

/** A deny-list file in a temp directory, and a way to replace its entries (as machined does: atomic rename). */
function listFile(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), "kiln-denied-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "denied-certificates");
  return { file, set: (entries: string[]) => writeFileAtomic(file, deniedFileText(entries), 0o644) };
}

t.test("a certificate denied by fingerprint or serial is refused from its next call on, and accepted again when taken off", async (t) => {
  const list = listFile(t);
  const stack = await startStack(t, pki, "mtls", "node-a", createFakeMachine(), deniedCertificatesFile(list.file));
  const admin = apidClient(t, stack.port, pki.ca, pki.clients.admin);
  const reader = apidClient(t, stack.port, pki.ca, pki.clients.reader);
  t.equal((await callUnary(admin, version)).code, status.OK, "no file: nothing denied");
  const adminFp = fingerprint(pki.clients.admin.crt);
  // As an operator would paste it from openssl: upper case with colons.
  list.set([adminFp.toUpperCase().match(/../g)!.join(":")]);
  const refused = await callUnary(admin, version);
  t.same({ code: refused.code, details: refused.details }, {
    code: status.PERMISSION_DENIED,
    details: `the client certificate (sha256:${adminFp}) is denied by this machine's machine.api.deniedCertificates: ask an admin for a new one`,
  }, "the same connection, the next call");
  t.equal((await callStream(admin, healthCheck.replace("Check", "Watch"), Buffer.alloc(0), {}, 500)).code, status.PERMISSION_DENIED, "health too");
  t.equal((await callUnary(admin, healthCheck)).code, status.PERMISSION_DENIED);
  t.equal((await callUnary(reader, version)).code, status.OK, "other certificates are not affected");
  const serial = new X509Certificate(pki.clients.reader.crt).serialNumber;
  list.set([adminFp, serial]);
  const byReader = await callUnary(reader, version);
  t.equal(byReader.code, status.PERMISSION_DENIED);
  t.match(byReader.details, /^the client certificate \(serial:[0-9a-f]+\) is denied/);
  list.set([]);
  t.equal((await callUnary(admin, version)).code, status.OK, "taken off the list: accepted again");
  t.equal((await callUnary(reader, version)).code, status.OK);
  t.same(stack.arrived.filter((p) => p === version).length, 4, "no denied call reached machined");
});

t.test("entries are a fingerprint or a serial, in hex with colons, normalised; anything else is named", async (t) => {
  const fp = "AB".repeat(32);
  t.same(parseDeniedEntry(fp), { value: `sha256:${"ab".repeat(32)}` });
  t.same(parseDeniedEntry(`sha256:${fp.match(/../g)!.join(":")}`), { value: `sha256:${"ab".repeat(32)}` });
  t.same(parseDeniedEntry("00:1F:a2"), { value: "serial:1fa2" });
  t.same(parseDeniedEntry("serial:0"), { value: "serial:0" });
  t.same(parseDeniedEntry("A".repeat(41)), { error: `expected a client certificate's SHA-256 fingerprint (64 hex digits) or serial number (1 to 40 hex digits), colons allowed, got "${"A".repeat(41)}"` });
  t.ok("error" in parseDeniedEntry("not hex"));
  t.equal(deniedFileText(["1f", "001F", fp]), `serial:1f\nsha256:${"ab".repeat(32)}\n`, "one a line, duplicates dropped");
});
