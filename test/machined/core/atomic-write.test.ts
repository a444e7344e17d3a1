// writeFileAtomic: the whole new content or the old, with its mode, and no
// temp file left next to it.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { writeFileAtomic } from "../../../src/machined/atomic-write.js";
import { tempDir } from "../helpers.js";
import { needsRoot } from "../../init/needs-root.js";
import { tinyTmpfs } from "../tmpfs.js";

t.test("writes a new file with the given mode", async (t) => {
  const dir = tempDir(t);
  writeFileAtomic(join(dir, "f"), "hello", 0o640);
  t.equal(readFileSync(join(dir, "f"), "utf8"), "hello");
  t.equal(statSync(join(dir, "f")).mode & 0o777, 0o640);
});

t.test("defaults to an owner-only mode", async (t) => {
  const dir = tempDir(t);
  writeFileAtomic(join(dir, "f"), "x");
  t.equal(statSync(join(dir, "f")).mode & 0o777, 0o600);
});

t.test("replaces an existing file whole, bytes as given", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "f");
  writeFileSync(path, "a much longer old content");
  writeFileAtomic(path, new Uint8Array([0x6e, 0x65, 0x77, 0x00, 0xff]));
  t.same([...readFileSync(path)], [0x6e, 0x65, 0x77, 0x00, 0xff]);
});

t.test("replaces the file rather than writing into it, so open readers keep the old content", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "f");
  writeFileSync(path, "old");
  const before = statSync(path).ino;
  writeFileAtomic(path, "new");
  t.not(statSync(path).ino, before);
});

t.test("leaves no temp file behind", async (t) => {
  const dir = tempDir(t);
  writeFileAtomic(join(dir, "f"), "1");
  writeFileAtomic(join(dir, "f"), "2");
  t.same(readdirSync(dir), ["f"]);
});

t.test("throws when the directory does not exist, creating nothing", async (t) => {
  const dir = tempDir(t);
  t.throws(() => writeFileAtomic(join(dir, "missing", "f"), "x"), { code: "ENOENT" });
  t.same(readdirSync(dir), []);
});

t.test("removes its temp file when the rename fails", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "taken"));
  writeFileSync(join(dir, "taken", "child"), "");
  t.throws(() => writeFileAtomic(join(dir, "taken"), "x"));
  t.same(readdirSync(dir), ["taken"]);
});

t.test("a write onto a full filesystem loops over short writes, throws exhausted, and keeps the old file", async (t) => {
  if (!needsRoot(t)) return;
  const dir = tinyTmpfs(t, "16k");
  const path = join(dir, "f");
  writeFileSync(path, "old content");
  writeFileSync(join(dir, "filler"), Buffer.alloc(8192)); // one page of 4,096 bytes left
  t.throws(() => writeFileAtomic(path, Buffer.alloc(15_631, 1)), { kind: "exhausted", message: /no space left/ });
  t.equal(readFileSync(path, "utf8"), "old content");
  t.same(readdirSync(dir).sort(), ["f", "filler"]);
});

t.test("writes every byte when the filesystem has just enough room", async (t) => {
  if (!needsRoot(t)) return;
  const dir = tinyTmpfs(t, "16k");
  const data = Buffer.alloc(16_384, 7);
  writeFileAtomic(join(dir, "f"), data);
  t.same(readFileSync(join(dir, "f")), data);
});
