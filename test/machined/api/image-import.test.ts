// ImageImport through machined's API server into a real containerd: the
// client stream spooled, imported and removed; what the importer or the
// bounds refuse comes back as INVALID_ARGUMENT naming the problem.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import t from "tap";
import type { ImageImportRequestSchema } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { Code } from "../../../src/grpc/errors.js";
import { ociImageArchive } from "../../../src/image/oci-image.js";
import { createArchiveImports } from "../../../src/machined/images/archive-upload.js";
import { cannotRun, ctr, startContainerd } from "../containerd.js";
import type { Teardown } from "../helpers.js";
import { createFakeMachine } from "./fixtures/fake-machine.js";
import { failure, serveMachine } from "./fixtures/serve.js";

const catatonit = "/usr/bin/catatonit";
const skip = cannotRun() || (!existsSync(catatonit) && process.env.CI !== "true" && "needs catatonit (apt-get install catatonit)");
const name = "kiln.local/pause:import";
type Request = MessageInitShape<typeof ImageImportRequestSchema>;

/** A machine API whose ImageImport spools in a temp dir and imports into a containerd of the test's own. */
async function setup(t: Teardown) {
  const { socket, dir } = await startContainerd(t);
  const spool = join(dir, "spool");
  const machine = createFakeMachine();
  const imports = createArchiveImports({ dir: spool, socket });
  machine.imageImport = (req) => imports.import(req);
  const { client } = await serveMachine(t, machine);
  const left = () => (existsSync(spool) ? readdirSync(spool) : []);
  return { client, socket, dir, left };
}

/** The header, then `data` in chunks of `chunk` bytes. */
async function* stream(data: Buffer, totalSize = data.length, chunk = 1 << 20, namespace = ""): AsyncIterable<Request> {
  yield { part: { case: "header", value: { namespace, totalSize: BigInt(totalSize) } } };
  for (let at = 0; at < data.length; at += chunk) yield { part: { case: "data", value: data.subarray(at, at + chunk) } };
}


t.test("an OCI archive streamed to ImageImport lands in k8s.io, named; the spool file is gone", { skip, timeout: 180_000 }, async (t) => {
  const { client, socket, left } = await setup(t);
  const { archive, manifestDigest } = await ociImageArchive({ name, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  const res = await client.imageImport(stream(archive, archive.length, 64 << 10));
  t.match(res.messages, [{ metadata: { node: "node-a" }, namespace: "k8s.io", received: BigInt(archive.length), images: [{ name, digest: manifestDigest, mediaType: "application/vnd.oci.image.manifest.v1+json" }] }]);
  t.match(ctr(socket, "-n", "k8s.io", "images", "ls", "-q"), name, "ctr lists it");
  t.same(left(), [], "the spool file was removed");
  const again = await client.imageImport(stream(archive, archive.length, 1 << 20, "other"));
  t.equal(again.messages[0]?.namespace, "other", "another namespace when asked");
});

t.test("a large archive: timing and throughput", { skip, timeout: 300_000 }, async (t) => {
  const { client, dir, left } = await setup(t);
  const blob = join(dir, "blob");
  writeFileSync(blob, randomBytes(96 << 20));
  const { archive } = await ociImageArchive({ name: "kiln.local/big:1", files: [{ path: "/blob", source: blob, mode: 0o644 }], entrypoint: ["/blob"], epoch: 0 });
  const t0 = performance.now();
  const res = await client.imageImport(stream(archive));
  const s = (performance.now() - t0) / 1000;
  t.equal(res.messages[0]?.images[0]?.name, "kiln.local/big:1");
  t.comment(`imported ${(archive.length / 2 ** 20).toFixed(1)} MiB in ${s.toFixed(2)} s: ${(archive.length / 2 ** 20 / s).toFixed(1)} MiB/s`);
  t.same(left(), []);
});

t.test("refusals name the problem: junk, a size mismatch, a stream of the wrong shape, a message too large", { skip, timeout: 180_000 }, async (t) => {
  const { client, socket, left } = await setup(t);
  const junk = randomBytes(10_000);
  const e1 = await failure(client.imageImport(stream(junk)));
  t.match(e1, { code: Code.INVALID_ARGUMENT, message: /^the archive: / }, `junk: ${e1.message}`);
  const e2 = await failure(client.imageImport(stream(junk, junk.length + 1)));
  t.match(e2, { code: Code.INVALID_ARGUMENT, message: `the archive ended after ${junk.length} of its declared total_size of ${junk.length + 1} bytes: send the whole file, and its exact size` });
  const e3 = await failure(client.imageImport(stream(junk, junk.length - 1)));
  t.match(e3, { code: Code.INVALID_ARGUMENT, message: /^the archive is longer than its declared total_size/ });
  const e4 = await failure(client.imageImport(stream(junk, 0)));
  t.match(e4, { code: Code.INVALID_ARGUMENT, message: /^expected total_size to be the archive's size in bytes, over 0 and at most 8192 MiB/ });
  const e5 = await failure(client.imageImport((async function* () { yield { part: { case: "data", value: junk } } satisfies Request; })()));
  t.match(e5, { code: Code.INVALID_ARGUMENT, message: /^expected the first ImageImportRequest to be a header/ });
  const big = Buffer.alloc((1 << 20) + 1);
  const e6 = await failure(client.imageImport(stream(big, big.length, big.length)));
  t.match(e6, { code: Code.INVALID_ARGUMENT, message: "a data message is 1048577 bytes; the limit is 1048576 bytes" });
  t.equal(ctr(socket, "-n", "k8s.io", "images", "ls", "-q").trim(), "", "nothing was named");
  t.same(left(), [], "no spool file is left");
});

t.test("a client that cancels mid-stream leaves nothing behind, and the next import runs", { skip, timeout: 180_000 }, async (t) => {
  const { client, left } = await setup(t);
  const ac = new AbortController();
  const slow = (async function* (): AsyncIterable<Request> {
    yield { part: { case: "header", value: { namespace: "", totalSize: 10n << 20n } } };
    yield { part: { case: "data", value: Buffer.alloc(1 << 20) } };
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await new Promise((r) => setTimeout(r, 1000));
  })();
  const e = await failure(client.imageImport(slow, { signal: ac.signal }));
  t.equal(e.code, Code.CANCELLED);
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(left(), [], "the spool file was removed");
  const junk = randomBytes(100);
  t.match(await failure(client.imageImport(stream(junk))), { code: Code.INVALID_ARGUMENT }, "the slot was given back");
});
