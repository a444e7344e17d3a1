import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { linkSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createFileGuard } from "../../../src/machined/inspect/file-guard.js";
import { type FileEntry, listFiles, readFileChunks } from "../../../src/machined/inspect/files.js";
import { needsRoot } from "../../init/needs-root.js";
import { tempDir } from "../helpers.js";
import { tinyTmpfs } from "../tmpfs.js";

/** A tree with a forbidden "state" directory, links into it, and ordinary files. */
function tree(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, "kiln-files-");
  mkdirSync(join(dir, "state"));
  writeFileSync(join(dir, "state", "config.yaml"), "secret: yes\n");
  mkdirSync(join(dir, "etc", "sub"), { recursive: true });
  writeFileSync(join(dir, "etc", "hosts"), "127.0.0.1 localhost\n");
  writeFileSync(join(dir, "etc", "sub", "deep"), "x");
  symlinkSync(join(dir, "state"), join(dir, "etc", "to-state"));
  symlinkSync("hosts", join(dir, "etc", "alias"));
  const guard = createFileGuard([{ path: join(dir, "state"), why: "the STATE directory" }]);
  return { dir, guard };
}

/** Every entry of a listing. */
async function entries(it: AsyncIterable<FileEntry>): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** A file's bytes, and how many chunks they came in. */
async function bytes(it: AsyncIterable<Uint8Array>): Promise<{ data: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return { data: Buffer.concat(parts), chunks: parts.length };
}

t.test("lists a directory's entries under '.' in name order, links reported and not followed", async (t) => {
  const { dir, guard } = tree(t);
  const list = await entries(listFiles(guard, { root: join(dir, "etc"), maxDepth: 1 }));
  t.same(list.map((e) => e.name), [".", "alias", "hosts", "sub", "to-state"]);
  t.match(list[1], { link: "hosts", isDir: false, error: "" });
  t.match(list[2], { size: 20, isDir: false });
  t.equal(list[2]!.mode & 0o170000, 0o100000, "mode carries the file type");
  t.match(list[3], { isDir: true });
});

t.test("descends as deep as asked, and without limit for a negative depth", async (t) => {
  const { dir, guard } = tree(t);
  t.notOk((await entries(listFiles(guard, { root: join(dir, "etc"), maxDepth: 0 }))).some((e) => e.name === "sub/deep"), "0 is one level");
  t.ok((await entries(listFiles(guard, { root: join(dir, "etc"), maxDepth: 2 }))).some((e) => e.name === "sub/deep"));
  t.ok((await entries(listFiles(guard, { root: dir, maxDepth: -1 }))).some((e) => e.name === "etc/sub/deep"));
});

t.test("lists a forbidden directory met on the way with an error and never enters it", async (t) => {
  const { dir, guard } = tree(t);
  const list = await entries(listFiles(guard, { root: dir, maxDepth: -1 }));
  t.match(list.find((e) => e.name === "state"), { isDir: true, error: /refused: it is under .*state, the STATE directory/ });
  t.notOk(list.some((e) => e.name.startsWith("state/")), "nothing inside it is listed");
});

t.test("refuses to list or read under the forbidden directory, however the path is spelled", async (t) => {
  const { dir, guard } = tree(t);
  const spellings = [join(dir, "state"), join(dir, "etc", "to-state"), `${dir}/etc/../state/config.yaml`, join(dir, "etc", "to-state", "config.yaml")];
  for (const p of spellings) {
    await t.rejects(entries(listFiles(guard, { root: p, maxDepth: 1 })), { kind: "forbidden", message: /the STATE directory/ }, `list ${p}`);
  }
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "etc", "to-state", "config.yaml") })), {
    kind: "forbidden",
    message: `${join(dir, "state", "config.yaml")}: refused: it is under ${join(dir, "state")}, the STATE directory`,
  });
});

t.test("recognises the forbidden directory by inode when seen through another path (a bind mount)", async (t) => {
  const { dir, guard } = tree(t);
  const st = statSync(join(dir, "state"));
  await t.rejects(guard.check("/elsewhere/bound", st), { name: "MachineError", kind: "forbidden" });
  await t.resolves(guard.check(join(dir, "etc"), statSync(join(dir, "etc"))));
});

t.test("says NOT_FOUND for a missing path and INVALID_ARGUMENT for a relative one", async (t) => {
  const { dir, guard } = tree(t);
  await t.rejects(entries(listFiles(guard, { root: join(dir, "nope"), maxDepth: 1 })), { kind: "not-found", message: `${join(dir, "nope")}: no such file or directory` });
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "nope") })), { name: "MachineError", kind: "not-found" });
  await t.rejects(bytes(readFileChunks(guard, { path: "etc/hosts" })), { kind: "invalid", message: /absolute path/ });
});

t.test("reads a file's exact bytes in 64 KiB chunks", async (t) => {
  const { dir, guard } = tree(t);
  const big = Buffer.alloc(200 * 1024, "kiln");
  writeFileSync(join(dir, "etc", "big"), big);
  const got = await bytes(readFileChunks(guard, { path: join(dir, "etc", "big") }));
  t.ok(got.data.equals(big));
  t.equal(got.chunks, 4);
  t.equal((await bytes(readFileChunks(guard, { path: join(dir, "etc", "alias") }))).data.toString(), "127.0.0.1 localhost\n", "through a link");
});

t.test("reads /proc files, whose size is 0 until read", async (t) => {
  const guard = createFileGuard([]);
  t.match((await bytes(readFileChunks(guard, { path: "/proc/self/status" }))).data.toString(), /^Name:/);
});

t.test("refuses directories and FIFOs instead of blocking on them", async (t) => {
  const { dir, guard } = tree(t);
  execFileSync("mkfifo", [join(dir, "etc", "pipe")]);
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "etc") })), { kind: "invalid", message: /is a directory/ });
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "etc", "pipe") })), { kind: "invalid", message: /not a regular file/ });
});

t.test("stops reading when the signal aborts", async (t) => {
  const { dir, guard } = tree(t);
  writeFileSync(join(dir, "etc", "big"), Buffer.alloc(1024 * 1024));
  const ac = new AbortController();
  let chunks = 0;
  for await (const _ of readFileChunks(guard, { path: join(dir, "etc", "big"), signal: ac.signal })) if (++chunks === 2) ac.abort();
  t.equal(chunks, 2);
});

t.test("refuses a real bind mount of the forbidden directory, and does not walk into it", async (t) => {
  if (!needsRoot(t)) return;
  const { dir } = tree(t);
  mkdirSync(join(dir, "other", "bound"), { recursive: true });
  const fixture = fileURLToPath(new URL("./fixtures/guard-bind.ts", import.meta.url));
  const script = `mount --bind "$1" "$2" && exec "$4" --import tsx "$5" "$1" "$2" "$3"`;
  const args = ["--mount", "--propagation", "private", "sh", "-c", script, "sh", join(dir, "state"), join(dir, "other", "bound"), join(dir, "other"), process.execPath, fixture];
  const report = JSON.parse(execFileSync("unshare", args, { encoding: "utf8" }));
  t.same(report, { list: "forbidden", read: "forbidden", walkedInto: [], boundEntry: report.boundEntry });
  t.match(report.boundEntry, /refused: it is under .*state, the STATE directory/);
});

t.test("refuses a hard link of a STATE file made elsewhere on STATE's filesystem, and serves other files there", async (t) => {
  const { dir, guard } = tree(t);
  const outside = tempDir(t, "kiln-files-link-");
  t.equal(statSync(outside).dev, statSync(join(dir, "state")).dev, "the link's directory is on the same filesystem as the fake STATE");
  linkSync(join(dir, "state", "config.yaml"), join(outside, "innocent.txt"));
  writeFileSync(join(outside, "other.txt"), "fine\n");
  await t.rejects(bytes(readFileChunks(guard, { path: join(outside, "innocent.txt") })), {
    kind: "forbidden",
    message: `${join(outside, "innocent.txt")}: refused: it is ${join(dir, "state")}'s own file seen through another path (a hard link or bind mount), the STATE directory`,
  });
  t.equal((await bytes(readFileChunks(guard, { path: join(outside, "other.txt") }))).data.toString(), "fine\n");
  t.equal((await bytes(readFileChunks(guard, { path: join(dir, "etc", "hosts") }))).data.toString(), "127.0.0.1 localhost\n");
});

t.test("refuses a real single-file bind mount of a STATE file, and anything on STATE's own filesystem", async (t) => {
  if (!needsRoot(t)) return;
  const { dir } = tree(t);
  // STATE as its own filesystem, as on metal.
  const state = tinyTmpfs(t, "64k");
  writeFileSync(join(state, "config.yaml"), "secret: yes\n");
  mkdirSync(join(state, "sub"));
  writeFileSync(join(state, "sub", "key"), "k");
  const guard = createFileGuard([{ path: state, why: "the STATE directory" }]);
  writeFileSync(join(dir, "etc", "bound-file"), "");
  execFileSync("mount", ["--bind", join(state, "config.yaml"), join(dir, "etc", "bound-file")]);
  t.teardown(() => execFileSync("umount", [join(dir, "etc", "bound-file")]));
  mkdirSync(join(dir, "etc", "bound-dir"));
  execFileSync("mount", ["--bind", join(state, "sub"), join(dir, "etc", "bound-dir")]);
  t.teardown(() => execFileSync("umount", [join(dir, "etc", "bound-dir")]));
  t.equal(statSync(join(dir, "etc", "bound-file")).dev, statSync(state).dev);
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "etc", "bound-file") })), { kind: "forbidden", message: `${join(dir, "etc", "bound-file")}: refused: it is on the filesystem of ${state}, the STATE directory` });
  await t.rejects(bytes(readFileChunks(guard, { path: join(dir, "etc", "bound-dir", "key") })), { kind: "forbidden", message: /on the filesystem of/ });
  await t.rejects(entries(listFiles(guard, { root: join(dir, "etc", "bound-dir"), maxDepth: 1 })), { kind: "forbidden", message: /on the filesystem of/ });
  const walked = await entries(listFiles(guard, { root: join(dir, "etc"), maxDepth: -1 }));
  t.match(walked.find((e) => e.name === "bound-dir"), { error: /on the filesystem of/ });
  t.notOk(walked.some((e) => e.name.startsWith("bound-dir/")), "the walk does not enter it");
  t.equal((await bytes(readFileChunks(guard, { path: join(dir, "etc", "hosts") }))).data.toString(), "127.0.0.1 localhost\n");
});
