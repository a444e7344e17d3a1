// The bounds of an image archive sent over the API, before containerd is
// reached: the declared size, the room on /var, bytes past or short of the
// declared size, one import at a time, the caller's cancel; the spool file
// is gone after each.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { type ArchiveImportRequest, createArchiveImports, SPARE_BYTES } from "../../../src/machined/images/archive-upload.js";
import { type Teardown, tempDir } from "../helpers.js";

/** Imports spooled in a temp dir, with a socket file that exists (nothing listens: these tests end before containerd). */
function setup(t: Teardown, o: { maxArchive?: number; free?: number } = {}) {
  const dir = tempDir(t, "kiln-image-import-");
  const socket = join(dir, "containerd.sock");
  writeFileSync(socket, "");
  const spool = join(dir, "spool");
  const free = o.free;
  const imports = createArchiveImports({ dir: spool, socket, ...(o.maxArchive ? { maxArchive: o.maxArchive } : {}), ...(free !== undefined ? { free: () => free } : {}) });
  const left = () => (existsSync(spool) ? readdirSync(spool) : []);
  return { imports, spool, left, dir };
}

/** A request for `chunks`, declaring `totalSize`. */
function request(totalSize: number, chunks: Uint8Array[], signal = new AbortController().signal): ArchiveImportRequest {
  return { namespace: "k8s.io", totalSize, signal, data: (async function* () { yield* chunks; })() };
}

t.test("a declared size that is not over 0 and at most the maximum is refused, naming it", async (t) => {
  const { imports } = setup(t, { maxArchive: 1000 });
  for (const size of [0, -1, 1001, 1.5, Number.NaN]) {
    await t.rejects(imports.import(request(size, [])), { kind: "invalid", message: new RegExp(`^expected total_size to be the archive's size in bytes, over 0 and at most 0 MiB \\(1000 bytes\\), got ${size}$`) }, `${size}`);
  }
});

t.test("an archive that does not fit on /var twice over, with room to spare, is refused before its first byte", async (t) => {
  const { imports, left } = setup(t, { free: 100 << 20 });
  const size = 20 << 20;
  await t.rejects(imports.import(request(size, [])), { kind: "exhausted", message: /^an image archive of 20 MiB needs 104 MiB free on EPHEMERAL .*which has 100 MiB: free space there/ });
  t.same(left(), []);
  t.ok(SPARE_BYTES > 0);
});

t.test("bytes past the declared size are refused, and the spool file is removed", async (t) => {
  const { imports, left } = setup(t);
  await t.rejects(imports.import(request(4, [Buffer.from("abc"), Buffer.from("de")])), { kind: "invalid", message: "the archive is longer than its declared total_size of 4 bytes (5 bytes so far): send the file's exact size" });
  t.same(left(), []);
});

t.test("an archive shorter than declared is refused, and the spool file is removed", async (t) => {
  const { imports, left } = setup(t);
  await t.rejects(imports.import(request(10, [Buffer.from("abc")])), { kind: "invalid", message: "the archive ended after 3 of its declared total_size of 10 bytes: send the whole file, and its exact size" });
  t.same(left(), []);
});

t.test("a second import while one runs is refused at once; the first goes on", async (t) => {
  const { imports, left } = setup(t);
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const first = imports.import({
    namespace: "k8s.io",
    totalSize: 3,
    signal: new AbortController().signal,
    data: (async function* () {
      yield Buffer.from("ab");
      await held;
      yield Buffer.from("cdef");
    })(),
  });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(left().length, 1, "the first is being spooled");
  await t.rejects(imports.import(request(1, [Buffer.from("x")])), { kind: "exhausted", message: /^another image import is under way on this machine \(one at a time\)/ });
  release();
  await t.rejects(first, { kind: "invalid", message: /longer than its declared total_size of 3 bytes/ });
  t.same(left(), []);
  await t.rejects(imports.import(request(1, [])), { kind: "invalid", message: /ended after 0 of/ }, "the slot is free again");
});

t.test("the caller's cancel ends the import as cancelled and removes what was received", async (t) => {
  const { imports, left } = setup(t);
  const ac = new AbortController();
  const p = imports.import({
    namespace: "k8s.io",
    totalSize: 100,
    signal: ac.signal,
    data: (async function* () {
      yield Buffer.from("ab");
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      throw new Error("the call was cancelled");
    })(),
  });
  await t.rejects(p, { kind: "cancelled", message: "the image import was cancelled by the caller" });
  t.same(left(), []);
});

t.test("without containerd's socket the import is refused as unavailable, naming the fix", async (t) => {
  const dir = tempDir(t, "kiln-image-import-");
  const imports = createArchiveImports({ dir: join(dir, "spool"), socket: join(dir, "none.sock") });
  await t.rejects(imports.import(request(1, [Buffer.from("x")])), { kind: "unavailable", message: /^containerd is not running \(no socket at .*none\.sock\): start it/ });
});

t.test("leftovers of a machined that died mid-import are removed by the next import", async (t) => {
  const { imports, spool, left } = setup(t);
  await t.rejects(imports.import(request(1, [])));
  writeFileSync(join(spool, "stale.tar"), "x");
  await t.rejects(imports.import(request(1, [])));
  t.same(left(), []);
});
