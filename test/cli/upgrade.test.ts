// `kilnctl upgrade` against a fake MachineService: a file uploaded in 1 MiB
// chunks at the right offsets, a URL passed through, steps on stderr, the
// stream cut after the reboot step as success, --wait ending committed (0),
// rolled back (6) or timed out (5), and usage errors before any call. Also
// `version`'s upgrade record.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { pollTiming } from "../../src/cli/upgrade-wait.js";
import { RebootMode } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../src/grpc/errors.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";
import { fakeStatus, fakeVersion, startFakeUpgradeServer, type StepInit } from "./fixtures/fake-upgrade-server.js";

const MiB = 1024 * 1024;
const server = await startFakeUpgradeServer();
const dir = await mkdtemp(join(tmpdir(), "kilnctl-bundle-"));
const bundle = join(dir, "kiln-upgrade.tar");
const bundleBytes = randomBytes(2.5 * MiB);
await writeFile(bundle, bundleBytes);
Object.assign(pollTiming, { intervalMs: 10, callMs: 1000 });
t.teardown(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
t.beforeEach(() => server.reset());

/** Runs `kilnctl -e <fake> ARGS` in-process. */
async function kilnctl(args: string[], opts: { tty?: boolean } = {}) {
  const deps = createFakeDeps(opts);
  const code = await runCli(["-e", server.endpoint, ...args], deps);
  return { code, out: deps.out(), err: deps.err() };
}

const onA = fakeVersion("0.1.0", "A", { A: "0.1.0", B: "" });
const pending = fakeStatus("pending", "2024-05-01T10:05:00Z");

/** The steps of an upgrade that writes slot B and reboots into it. */
function rebootSteps(): StepInit[] {
  return [
    { phase: "verify", message: "kiln 0.2.0: checksums match" },
    { phase: "write", message: "writing kiln 0.2.0 to slot B", done: 0n, total: 3n * BigInt(MiB) },
    { phase: "write", message: "writing kiln 0.2.0 to slot B", done: 2n * BigInt(MiB), total: 3n * BigInt(MiB) },
    { phase: "write", message: "slot B written and read back", done: 3n * BigInt(MiB), total: 3n * BigInt(MiB) },
    { phase: "bootloader", message: "GRUB boots slot B once, on trial" },
    { phase: "reboot", message: "rebooting into slot B", status: pending },
  ];
}

const stepLines = [
  "kilnctl: [verify] kiln 0.2.0: checksums match",
  "kilnctl: [write] writing kiln 0.2.0 to slot B: 3.0 MiB",
  "kilnctl: [write] slot B written and read back: 3.0 MiB",
  "kilnctl: [bootloader] GRUB boots slot B once, on trial",
  "kilnctl: [reboot] rebooting into slot B",
];

t.test("a local file is uploaded in 1 MiB chunks, the first opening the upload and the rest in flight at once, then upgraded from", async (t) => {
  // Each chunk is answered after a second: the two chunks kilnctl sends at once overlap however loaded the machine is.
  Object.assign(server, { versions: [onA], steps: rebootSteps(), uploadPauseMs: 1000 });
  const r = await kilnctl(["upgrade", "--image", bundle, "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.same(server.uploads[0], { uploadId: "", offset: 0, bytes: MiB, totalSize: 2.5 * MiB }, "the first chunk opens the upload, alone");
  t.same(
    server.uploads.slice(1).sort((a, b) => a.offset - b.offset),
    [
      { uploadId: "upload-1", offset: MiB, bytes: MiB, totalSize: 0 },
      { uploadId: "upload-1", offset: 2 * MiB, bytes: 0.5 * MiB, totalSize: 0 },
    ],
  );
  t.equal(server.uploadsAtOnce, 2, "the other two chunks were under way at once");
  t.ok(server.uploaded.get("upload-1")?.equals(bundleBytes), "the machine has the file, byte for byte");
  const req = server.upgrades[0]!;
  t.same(req.source, { case: "uploadId", value: "upload-1" });
  t.same([req.force, req.stage, req.rebootMode, req.healthTimeout?.seconds], [false, false, RebootMode.DEFAULT, 300n]);
  t.same(JSON.parse(r.out), { node: "node-a", fromVersion: "0.1.0", toVersion: "0.2.0", fromSlot: "A", toSlot: "B", state: "pending", reason: "" });
  t.equal(r.err, `${["kilnctl: [upload] uploading kiln-upgrade.tar: 2.5 MiB", ...stepLines].join("\n")}\n`);
});

t.test("an http(s) URL is fetched by the machine: nothing uploaded, flags passed through", async (t) => {
  const fetch: StepInit = { phase: "fetch", message: "fetching https://example.com/kiln-upgrade.tar", done: 0n, total: 100n };
  Object.assign(server, { versions: [onA], steps: [fetch, ...rebootSteps()] });
  const url = "https://example.com/kiln-upgrade.tar";
  const r = await kilnctl(["upgrade", "--image", url, "--force", "--reboot-mode", "powercycle", "--health-timeout", "90s"]);
  t.equal(r.code, 0, r.err);
  t.same(server.uploads, []);
  const req = server.upgrades[0]!;
  t.same(req.source, { case: "url", value: url });
  t.same([req.force, req.stage, req.rebootMode, req.healthTimeout?.seconds], [true, false, RebootMode.POWERCYCLE, 90n]);
  t.equal(r.out, "NODE    FROM       TO         STATE\nnode-a  0.1.0 (A)  0.2.0 (B)  pending\n");
  t.match(r.err, /^kilnctl: \[fetch\] fetching https:\/\/example\.com\/kiln-upgrade\.tar: 100 B\n/);
});

t.test("the stream cut with UNAVAILABLE or CANCELLED after the reboot step is the machine going down: success", async (t) => {
  for (const code of [Code.UNAVAILABLE, Code.CANCELLED]) {
    server.reset();
    Object.assign(server, { versions: [onA], steps: rebootSteps(), endWith: new ApiError(code, "connection reset") });
    const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar", "-o", "yaml"]);
    t.equal(r.code, 0, r.err);
    t.match(r.out, /^state: pending$/m);
  }
});

t.test("UNAVAILABLE before the reboot step fails the upgrade with exit 4, naming the step", async (t) => {
  const why = "fetching http://10.0.0.1/b.tar: connect ECONNREFUSED 10.0.0.1:80";
  Object.assign(server, { versions: [onA], steps: [{ phase: "fetch", message: "fetching http://10.0.0.1/b.tar" }], endWith: new ApiError(Code.UNAVAILABLE, why) });
  const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar"]);
  t.equal(r.code, 4);
  t.equal(r.err, `kilnctl: [fetch] fetching http://10.0.0.1/b.tar\nkilnctl: upgrading: ${why} (after the "fetch" step)\n`);
  t.equal(r.out, "");
});

t.test("a refusal by the machine exits 1 with its message; a stream that stops early says so", async (t) => {
  Object.assign(server, { versions: [onA], endWith: new ApiError(Code.FAILED_PRECONDITION, "kiln 0.1.0 is not newer than the running 0.1.0 (use --force)") });
  const refused = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar"]);
  t.equal(refused.code, 1);
  t.equal(refused.err, "kilnctl: upgrading: kiln 0.1.0 is not newer than the running 0.1.0 (use --force)\n");
  server.reset();
  Object.assign(server, { versions: [onA], steps: rebootSteps().slice(0, 1) });
  const early = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar"]);
  t.equal(early.code, 1);
  t.match(early.err, /kilnctl: upgrading: the machine ended the upgrade after its "verify" step, before staging or rebooting/);
});

t.test("--stage asks for the slot only and ends at the staged step", async (t) => {
  const staged = { phase: "staged", message: "slot B boots at the next reboot, on trial", status: fakeStatus("staged", "2024-05-01T10:05:00Z") };
  Object.assign(server, { versions: [onA], steps: [...rebootSteps().slice(0, 5), staged] });
  const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar", "--stage", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.equal(server.upgrades[0]!.stage, true);
  t.equal(JSON.parse(r.out).state, "staged");
});

t.test("--wait polls through the reboot until the machine commits the new slot: exit 0", async (t) => {
  const down = new ApiError(Code.UNAVAILABLE, "connection refused");
  const onB = (state: string, time: string, reason = "") => fakeVersion("0.2.0", "B", { A: "0.1.0", B: "0.2.0" }, fakeStatus(state, time, reason));
  const polls = [fakeVersion("0.1.0", "A", { A: "0.1.0", B: "0.2.0" }, pending), down, down, onB("trial", "2024-05-01T10:06:00Z", "waiting for kubelet"), onB("committed", "2024-05-01T10:07:00Z")];
  Object.assign(server, { versions: [onA, ...polls], steps: rebootSteps() });
  const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar", "--wait", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.equal(server.versionCalls, 6);
  t.same(JSON.parse(r.out), { node: "node-a", fromVersion: "0.1.0", toVersion: "0.2.0", fromSlot: "A", toSlot: "B", state: "committed", reason: "" });
  t.match(r.err, [
    "kilnctl: [health] waiting for the machine on slot B to become healthy",
    "kilnctl: [health] the machine runs slot A (kiln 0.1.0); upgrade pending",
    "kilnctl: [health] the machine is not answering (rebooting)",
    "kilnctl: [health] the machine runs slot B (kiln 0.2.0); upgrade trial: waiting for kubelet",
    "kilnctl: [health] committed: the machine runs slot B (kiln 0.2.0)",
  ].join("\n"));
});

t.test("--wait ends with exit 6 when the machine rolled back, ignoring the record of an earlier upgrade", async (t) => {
  const earlier = fakeVersion("0.1.0", "A", { A: "0.1.0", B: "0.2.0" }, fakeStatus("rolled-back", "2024-04-01T00:00:00Z", "an older failure"));
  const reason = "kubelet did not become healthy within 5m";
  const after = fakeVersion("0.1.0", "A", { A: "0.1.0", B: "0.2.0" }, fakeStatus("rolled-back", "2024-05-01T10:09:00Z", reason));
  const steps = rebootSteps().map(({ status: _, ...s }) => s);
  Object.assign(server, { versions: [earlier, earlier, new ApiError(Code.DEADLINE_EXCEEDED, "slow"), after], steps });
  const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar", "--wait", "-o", "json"]);
  t.equal(r.code, 6);
  t.match(JSON.parse(r.out), { state: "rolled-back", reason, fromSlot: "A", toSlot: "B" });
  t.match(r.err, `kilnctl: [health] the machine runs slot A (kiln 0.1.0); the upgrade is not recorded yet\n`);
  t.match(r.err, /\nkilnctl: upgrade rolled back: the machine is on slot A \(kiln 0\.1\.0\) again: kubelet did not become healthy within 5m\n$/);
});

t.test("--wait gives up after --wait-timeout with exit 5, saying where the machine was", async (t) => {
  const trial = fakeVersion("0.2.0", "B", { A: "0.1.0", B: "0.2.0" }, fakeStatus("trial", "2024-05-01T10:06:00Z", "waiting for kubelet"));
  Object.assign(server, { versions: [onA, trial], steps: rebootSteps() });
  const r = await kilnctl(["upgrade", "--image", "http://10.0.0.1/b.tar", "--wait", "--wait-timeout", "200ms"]);
  t.equal(r.code, 5);
  t.match(r.err, "kilnctl: warning: --wait-timeout is not longer than --health-timeout: kilnctl may stop waiting before the machine decides\n");
  t.match(r.err, /\nkilnctl: waiting for the upgrade: no result within 200ms: the machine runs slot B \(kiln 0\.2\.0\); upgrade trial: waiting for kubelet \(kilnctl version shows where it is;.*\)\n$/);
  t.equal(r.out, "");
});

t.test("on a terminal, byte phases get a progress bar on stderr; stdout holds only the result", async (t) => {
  Object.assign(server, { versions: [onA], steps: rebootSteps() });
  const r = await kilnctl(["upgrade", "--image", bundle, "-o", "json"], { tty: true });
  t.equal(r.code, 0, r.err);
  t.match(r.err, /^kilnctl: \[upload\] uploading kiln-upgrade\.tar\n.*kilnctl: \[upload\] \[=+\] 100% 2\.5 MiB of 2\.5 MiB/s);
  t.match(r.err, /kilnctl: \[write\] \[=+\] 100% 3\.0 MiB of 3\.0 MiB.*\nkilnctl: \[write\] slot B written and read back: 3\.0 MiB\n/s);
  t.equal(JSON.parse(r.out).state, "pending");
});

t.test("usage errors (exit 2) come before any call", async (t) => {
  const cases: [string[], string | RegExp][] = [
    [["--image", join(dir, "nope.tar")], `kilnctl: --image: ${join(dir, "nope.tar")}: no such file (give the kiln-upgrade.tar that kilnctl image build writes, or an http(s) URL)\n`],
    [["--image", dir], `kilnctl: --image: ${dir}: is a directory (give the bundle file in it, e.g. ${bundle})\n`],
    [["--image", "ftp://host/b.tar"], 'kilnctl: --image: expected a local file or an http(s) URL, got "ftp://host/b.tar" (the machine fetches only http and https)\n'],
    [["--image", bundle, "--wait", "--stage"], /^kilnctl: --wait: does not go with --stage: /],
    [["--image", bundle, "--wait-timeout", "5m"], "kilnctl: --wait-timeout: applies only with --wait\n"],
    [["--image", bundle, "--health-timeout", "soon"], 'kilnctl: --health-timeout: expected a duration such as 30s, 500ms or 1m30s, got "soon"\n'],
    [[], "kilnctl: usage: required option '--image <path|url>' not specified\n"],
    [["--image", bundle, "-n", "10.0.0.2,10.0.0.3"], "kilnctl: --nodes: upgrade takes one machine at a time, got 2 (10.0.0.2, 10.0.0.3): run it once per node, each with --wait\n"],
  ];
  for (const [args, err] of cases) {
    const r = await kilnctl(["upgrade", ...args]);
    t.equal(r.code, 2, args.join(" "));
    t.match(r.err, err);
    t.equal(r.out, "");
  }
  await mkdir(join(dir, "empty"), { recursive: true });
  await writeFile(join(dir, "empty", "b.tar"), "");
  t.match((await kilnctl(["upgrade", "--image", join(dir, "empty", "b.tar")])).err, /: the file is empty/);
  t.same([server.versionCalls, server.uploads.length, server.upgrades.length], [0, 0, 0]);
});

t.test("version shows the last upgrade: a line under the table, an object in JSON", async (t) => {
  server.versions = [fakeVersion("0.2.0", "B", { A: "0.1.0", B: "0.2.0" }, fakeStatus("committed", "2024-05-01T10:07:00Z"))];
  const table = await kilnctl(["version"]);
  t.equal(table.code, 0, table.err);
  t.match(table.out, /\nlast upgrade: 0\.1\.0 → 0\.2\.0 on slot B: committed\n$/);
  const json = JSON.parse((await kilnctl(["version", "-o", "json"])).out);
  t.same(json.server, { version: "0.2.0", slot: "B" });
  t.same(json.upgrade, { state: "committed", fromSlot: "A", fromVersion: "0.1.0", toSlot: "B", toVersion: "0.2.0", reason: "", time: "2024-05-01T10:07:00.000Z" });
  server.versions = [onA];
  const none = await kilnctl(["version", "-o", "json"]);
  t.notOk("upgrade" in JSON.parse(none.out), "no upgrade key without a record");
  t.notMatch((await kilnctl(["version"])).out, /last upgrade/);
});
