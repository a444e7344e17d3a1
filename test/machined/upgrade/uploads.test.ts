// Uploads on EPHEMERAL: chunks in any order within the window after the bytes
// received so far (a client keeps several in flight), resumable, refused with
// a message saying what to do when before the bytes received, past the
// window, overlapping, too big, unknown or without room; URLs fetched into an
// upload.
import { existsSync, readdirSync, readFileSync, } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import t from "tap";
import { createUploads, MAX_AHEAD, MAX_BUNDLE, MAX_CHUNK, UPLOAD_WINDOW } from "../../../src/machined/upgrade/uploads.js";
import { tempDir } from "../helpers.js";

/** A scratch upload directory, removed when the file's tests end. */
const dir = () => join(tempDir(t, "kiln-uploads-"), "upgrade");
const bytes = (s: string) => new TextEncoder().encode(s);

t.test("chunks append in order and the upload reads back whole", async (t) => {
  const u = createUploads(dir());
  const first = u.append({ uploadId: "", offset: 0, data: bytes("hello "), totalSize: 11 });
  t.equal(first.received, 6);
  t.same(u.append({ uploadId: first.uploadId, offset: 6, data: bytes("world"), totalSize: 0 }), { uploadId: first.uploadId, received: 11 });
  t.equal(readFileSync(u.path(first.uploadId), "utf8"), "hello world");
});

t.test("a chunk before the bytes received or past the window says where to resume", async (t) => {
  const u = createUploads(dir());
  const { uploadId } = u.append({ uploadId: "", offset: 0, data: bytes("abc"), totalSize: UPLOAD_WINDOW * 2 });
  const expected = (got: number) => `upload ${uploadId}: expected a chunk at an offset from 3 (the bytes received so far) to ${3 + UPLOAD_WINDOW - 1}, got ${got}; resume from 3`;
  t.throws(() => u.append({ uploadId, offset: 1, data: bytes("def"), totalSize: 0 }), { message: expected(1), kind: "refused" });
  t.throws(() => u.append({ uploadId, offset: 3 + UPLOAD_WINDOW, data: bytes("def"), totalSize: 0 }), { message: expected(3 + UPLOAD_WINDOW), kind: "refused" });
  t.equal(u.append({ uploadId, offset: 3 + UPLOAD_WINDOW - 1, data: bytes("z"), totalSize: 0 }).received, 3, "the window's last byte is taken, ahead of the gap");
});

t.test("chunks in flight arrive in any order: the bytes received grow once the gap before them fills", async (t) => {
  const u = createUploads(dir());
  const { uploadId } = u.append({ uploadId: "", offset: 0, data: bytes("abc"), totalSize: 12 });
  t.equal(u.append({ uploadId, offset: 9, data: bytes("jkl"), totalSize: 0 }).received, 3, "a chunk ahead is written but not yet counted");
  t.equal(u.append({ uploadId, offset: 6, data: bytes("ghi"), totalSize: 0 }).received, 3);
  t.throws(() => u.append({ uploadId, offset: 5, data: bytes("fg"), totalSize: 0 }), { message: `upload ${uploadId}: the chunk at offset 5 overlaps the 3 bytes at offset 6, which are in already; resume from 3`, kind: "refused" });
  t.throws(() => u.path(uploadId), { message: `upload ${uploadId} is incomplete: 3 of 12 bytes received; resume from 3` });
  t.equal(u.append({ uploadId, offset: 3, data: bytes("def"), totalSize: 0 }).received, 12, "the gap filled: everything is counted");
  t.equal(readFileSync(u.path(uploadId), "utf8"), "abcdefghijkl");
});

t.test("a chunk over 1 MiB, an unknown upload and a bundle without room are refused", async (t) => {
  const u = createUploads(dir());
  t.throws(() => u.append({ uploadId: "", offset: 0, data: new Uint8Array(MAX_CHUNK + 1), totalSize: 0 }), { message: `a chunk holds at most ${MAX_CHUNK} bytes, got ${MAX_CHUNK + 1}`, kind: "invalid" });
  t.throws(() => u.path("00000000-0000-0000-0000-000000000000"), { message: /^no upload "0{8}-.*\(it may have been replaced by a newer one, or the machine rebooted\): upload the bundle again$/, kind: "not-found" });
  const roomy = createUploads(dir(), { maxBundle: Number.MAX_SAFE_INTEGER });
  t.throws(() => roomy.append({ uploadId: "", offset: 0, data: bytes("x"), totalSize: 2 ** 50 }), { message: /needs .* free on EPHEMERAL \(\/var\), which has .*: free space there or use a larger disk/, kind: "exhausted" });
});

t.test("a new upload replaces the old one", async (t) => {
  const u = createUploads(dir());
  const a = u.append({ uploadId: "", offset: 0, data: bytes("a"), totalSize: 1 });
  u.append({ uploadId: "", offset: 0, data: bytes("b"), totalSize: 1 });
  t.throws(() => u.path(a.uploadId), { message: /no upload/ });
});

t.test("a URL is fetched into an upload; a bad URL or an HTTP error is named", async (t) => {
  const server = createServer((req, res) => {
    if (req.url === "/bundle.tar") return void res.end("tar bytes");
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const u = createUploads(dir());
  const seen: number[] = [];
  const file = await u.fetch(`${base}/bundle.tar`, (done) => seen.push(done), new AbortController().signal);
  t.equal(readFileSync(file, "utf8"), "tar bytes");
  t.equal(seen.at(-1), 9);
  await t.rejects(u.fetch(`${base}/missing.tar`, () => {}, new AbortController().signal), { message: `fetching ${base}/missing.tar: HTTP 404 Not Found`, kind: "refused" });
  await t.rejects(u.fetch("ftp://example.com/x.tar", () => {}, new AbortController().signal), { message: 'expected an http(s) URL, got "ftp://example.com/x.tar"', kind: "invalid" });
  await t.rejects(u.fetch("not a url", () => {}, new AbortController().signal), { message: 'expected an http(s) URL of a kiln-upgrade.tar, got "not a url"' });
});

t.test("the maximum bundle is 1 GiB", async (t) => {
  t.equal(MAX_BUNDLE, 1024 * 1024 * 1024);
});

t.test("a total_size of 0, negative, fractional or over the maximum is refused before anything is written", async (t) => {
  const d = dir();
  const u = createUploads(d, { maxBundle: 16 });
  for (const totalSize of [0, -1, 1.5, 17, Number.NaN]) {
    t.throws(() => u.append({ uploadId: "", offset: 0, data: bytes("x"), totalSize }), { message: `expected total_size to be the bundle's size, over 0 and at most 0 MiB (16 bytes), got ${totalSize}`, kind: "invalid" }, `${totalSize}`);
  }
  t.notOk(existsSync(d), "no upload file (nor its directory) was created");
  t.equal(u.append({ uploadId: "", offset: 0, data: bytes("x"), totalSize: 16 }).received, 1, "exactly the maximum is taken");
});

t.test("no chunk may end past the declared size; exactly the declared size completes the upload", async (t) => {
  const u = createUploads(dir());
  t.throws(() => u.append({ uploadId: "", offset: 0, data: bytes("too long"), totalSize: 3 }), { message: /a chunk of 8 bytes at offset 0 ends past the declared total_size of 3 bytes$/, kind: "invalid" });
  const { uploadId } = u.append({ uploadId: "", offset: 0, data: bytes("abc"), totalSize: 5 });
  t.throws(() => u.append({ uploadId, offset: 3, data: bytes("def"), totalSize: 0 }), { message: `upload ${uploadId}: a chunk of 3 bytes at offset 3 ends past the declared total_size of 5 bytes`, kind: "invalid" });
  t.throws(() => u.append({ uploadId, offset: 5, data: bytes("d"), totalSize: 0 }), { message: `upload ${uploadId}: a chunk of 1 bytes at offset 5 ends past the declared total_size of 5 bytes`, kind: "invalid" }, "nor a chunk ahead");
  t.throws(() => u.path(uploadId), { message: `upload ${uploadId} is incomplete: 3 of 5 bytes received; resume from 3`, kind: "refused" });
  t.equal(u.append({ uploadId, offset: 3, data: bytes("de"), totalSize: 0 }).received, 5);
  t.equal(readFileSync(u.path(uploadId), "utf8"), "abcde");
  t.throws(() => u.append({ uploadId, offset: 5, data: bytes("f"), totalSize: 0 }), { message: /ends past the declared total_size of 5 bytes/ }, "not a byte after it");
});

t.test("a URL is capped by its Content-Length, or by the maximum without one", async (t) => {
  const body = (n: number) => "x".repeat(n);
  const server = createServer((req, res) => {
    const [, kind, n] = req.url?.split("/") ?? [];
    if (kind === "whole") {
      // No Content-Length, and every byte in one piece: the limit is passed on the first chunk.
      res.write(body(Number(n)));
      return void res.end();
    }
    if (kind === "chunked") {
      // No Content-Length: the body streams in pieces.
      res.write(body(Number(n) - 1));
      return void setTimeout(() => res.end("y"), 10);
    }
    res.setHeader("content-length", String(n));
    res.end(body(Number(n)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const d = dir();
  const u = createUploads(d, { maxBundle: 16 });
  const signal = new AbortController().signal;
  t.equal(readFileSync(await u.fetch(`${base}/sized/16`, () => {}, signal), "utf8"), body(16), "a Content-Length of exactly the maximum");
  await t.rejects(u.fetch(`${base}/sized/17`, () => {}, signal), { message: `fetching ${base}/sized/17: expected a Content-Length over 0 and at most 0 MiB (16 bytes), got "17"`, kind: "invalid" });
  await t.rejects(u.fetch(`${base}/sized/0`, () => {}, signal), { message: /expected a Content-Length over 0/, kind: "invalid" });
  t.equal(readFileSync(await u.fetch(`${base}/chunked/16`, () => {}, signal), "utf8"), `${body(15)}y`, "no Content-Length, exactly the maximum");
  const seen: number[] = [];
  await t.rejects(u.fetch(`${base}/chunked/17`, (done) => seen.push(done), signal), { message: `fetching ${base}/chunked/17: the body (no Content-Length) passed 16 bytes, the most this machine takes (0 MiB or what fits on /var)`, kind: "exhausted" });
  t.ok(seen.every((n) => n <= 16), "progress never passes the limit");
  t.same(readdirSync(d), [], "the partial download is removed");
  // Refused on the first chunk, while the file may still be opening: it must not appear after the refusal.
  for (let i = 0; i < 20; i++) {
    await t.rejects(u.fetch(`${base}/whole/4096`, () => {}, signal), { message: /passed 16 bytes/, kind: "exhausted" });
    t.same(readdirSync(d), [], `no file left by a download refused on its first chunk (${i + 1} of 20)`);
  }
});

t.test("at most MAX_AHEAD chunks wait past a gap; the chunk that fills it is still taken", async (t) => {
  const u = createUploads(dir());
  const { uploadId } = u.append({ uploadId: "", offset: 0, data: bytes("a"), totalSize: 100 });
  for (let i = 0; i < MAX_AHEAD; i++) u.append({ uploadId, offset: 2 + i, data: bytes("x"), totalSize: 0 });
  t.throws(() => u.append({ uploadId, offset: 2 + MAX_AHEAD, data: bytes("x"), totalSize: 0 }), { message: `upload ${uploadId}: ${MAX_AHEAD} chunks wait already past the gap at offset 1; send the chunk at 1 first`, kind: "refused" });
  t.equal(u.append({ uploadId, offset: 1, data: bytes("b"), totalSize: 0 }).received, 2 + MAX_AHEAD, "the gap filled: every waiting chunk counts");
});
