import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { writeSecretFile } from "../../src/pki/secret-file.js";

/** A temp dir, removed after the test. */
async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-secret-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test("writes a new file with mode 0600 even under a permissive umask", async (t) => {
  const dir = await tempDir(t);
  const old = process.umask(0);
  t.teardown(() => process.umask(old));
  await writeSecretFile(join(dir, "key"), "secret");
  t.equal((await stat(join(dir, "key"))).mode & 0o777, 0o600);
  t.equal(await readFile(join(dir, "key"), "utf8"), "secret");
  t.same(await readdir(dir), ["key"], "no temp file left behind");
});

t.test("refuses to replace an existing file unless asked, leaving it intact", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "key");
  await writeFile(path, "old", { mode: 0o644 });
  await t.rejects(writeSecretFile(path, "new"), { message: `writing ${path}`, cause: { code: "EEXIST" } });
  t.equal(await readFile(path, "utf8"), "old");
  t.same(await readdir(dir), ["key"]);
  await writeSecretFile(path, "new", { overwrite: true });
  t.equal(await readFile(path, "utf8"), "new");
  t.equal((await stat(path)).mode & 0o777, 0o600, "a replaced file is 0600 too");
});

t.test("fails naming the file and keeping the cause when the directory is missing", async (t) => {
  const dir = await tempDir(t);
  await t.rejects(writeSecretFile(join(dir, "nope", "key"), "x"), { message: `writing ${join(dir, "nope", "key")}`, cause: { code: "ENOENT" } });
});
