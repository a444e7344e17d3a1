// Uploads on EPHEMERAL: chunks in order, resumable, refused with a message
// saying what to do when out of order, too big, unknown or without room;
// URLs fetched into an upload.
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { createUploads, MAX_CHUNK } from "../../../src/machined/upgrade/uploads.js";

const dir = () => join(mkdtempSync(join(tmpdir(), "kiln-uploads-")), "upgrade");
const bytes = (s: string) => new TextEncoder().encode(s);

t.test("chunks append in order and the upload reads back whole", async (t) => {
  const u = createUploads(dir());
  const first = u.append({ uploadId: "", offset: 0, data: bytes("hello "), totalSize: 11 });
  t.equal(first.received, 6);
  t.same(u.append({ uploadId: first.uploadId, offset: 6, data: bytes("world"), totalSize: 0 }), { uploadId: first.uploadId, received: 11 });
  t.equal(readFileSync(u.path(first.uploadId), "utf8"), "hello world");
});

t.test("a chunk at the wrong offset says where to resume", async (t) => {
  const u = createUploads(dir());
  const { uploadId } = u.append({ uploadId: "", offset: 0, data: bytes("abc"), totalSize: 6 });
  t.throws(() => u.append({ uploadId, offset: 5, data: bytes("def"), totalSize: 0 }), { message: `upload ${uploadId}: expected offset 3 (the bytes received so far), got 5; resume from 3`, kind: "refused" });
});

t.test("a chunk over 1 MiB, an unknown upload and a bundle without room are refused", async (t) => {
  const u = createUploads(dir());
  t.throws(() => u.append({ uploadId: "", offset: 0, data: new Uint8Array(MAX_CHUNK + 1), totalSize: 0 }), { message: `a chunk holds at most ${MAX_CHUNK} bytes, got ${MAX_CHUNK + 1}`, kind: "invalid" });
  t.throws(() => u.path("00000000-0000-0000-0000-000000000000"), { message: /^no upload "0{8}-.*\(it may have been replaced by a newer one, or the machine rebooted\): upload the bundle again$/, kind: "not-found" });
  t.throws(() => u.append({ uploadId: "", offset: 0, data: bytes("x"), totalSize: Number.MAX_SAFE_INTEGER / 4 }), { message: /needs .* free on EPHEMERAL \(\/var\), which has .*: free space there or use a larger disk/, kind: "exhausted" });
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
