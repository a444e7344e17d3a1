// rootfs.sqsh with the real mksquashfs: the same tree gives the same bytes,
// the cache is reused, and unsquashfs reads back root-owned files stamped
// with the epoch.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import t, { type Test } from "tap";
import { buildSquashfs, mksquashfsArgs } from "../../src/image/squashfs.js";

const epoch = 1700000000;

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-squashfs-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether squashfs-tools are on PATH; when not, fails on CI and skips elsewhere. */
function needTools(t: Test): boolean {
  try {
    execFileSync("sh", ["-c", "command -v mksquashfs && command -v unsquashfs"], { stdio: "ignore" });
    return true;
  } catch {
    const msg = "mksquashfs/unsquashfs are not installed: apt-get install squashfs-tools";
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return false;
  }
}

/** A small tree: a setuid file, a private subdirectory, a link; owned by 1000 when we can chown. */
function tree(t: Test): string {
  const dir = join(scratch(t), "tree");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "file"), "hello\n");
  writeFileSync(join(dir, "sub/inner"), "inner\n");
  symlinkSync("file", join(dir, "link"));
  if (process.getuid?.() === 0) for (const p of ["file", "sub", "sub/inner"]) chownSync(join(dir, p), 1000, 1000);
  chmodSync(join(dir, "file"), 0o4751); // after chown, which clears setuid
  chmodSync(join(dir, "sub"), 0o700);
  return dir;
}

t.test("mksquashfsArgs pins owners, times and ordering", async (t) => {
  const args = mksquashfsArgs("/tree", "/out.sqsh", epoch);
  t.same(args.slice(0, 2), ["/tree", "/out.sqsh"]);
  for (const flag of ["-noappend", "-all-root", "-reproducible", "-no-xattrs"]) t.ok(args.includes(flag), flag);
  t.equal(args[args.indexOf("-mkfs-time") + 1], String(epoch));
  t.equal(args[args.indexOf("-all-time") + 1], String(epoch));
});

t.test("the same tree, key and epoch give byte-identical images in two caches", async (t) => {
  if (!needTools(t)) return;
  const src = tree(t);
  const a = buildSquashfs({ tree: src, cacheDir: join(scratch(t), "cache"), key: "abc", epoch });
  const b = buildSquashfs({ tree: src, cacheDir: join(scratch(t), "cache"), key: "abc", epoch });
  t.same([a.cached, b.cached], [false, false]);
  t.equal(basename(a.path), basename(b.path));
  t.match(basename(a.path), /^abc-[0-9a-f]{12}\.sqsh$/);
  t.ok(readFileSync(a.path).equals(readFileSync(b.path)), "byte-identical");
});

t.test("a second build into the same cache is cached; another epoch is not", async (t) => {
  if (!needTools(t)) return;
  const src = tree(t);
  const cacheDir = scratch(t);
  const first = buildSquashfs({ tree: src, cacheDir, key: "abc", epoch });
  const again = buildSquashfs({ tree: src, cacheDir, key: "abc", epoch });
  t.same(again, { path: first.path, cached: true });
  const other = buildSquashfs({ tree: src, cacheDir, key: "abc", epoch: epoch + 1 });
  t.equal(other.cached, false);
  t.not(other.path, first.path);
  t.same(readdirSync(cacheDir).sort(), [".used", basename(first.path), basename(other.path)].sort(), "no temporary files left");
  t.same(readdirSync(join(cacheDir, ".used")).sort(), [basename(first.path), basename(other.path)].sort(), "each image is stamped used");
});

t.test("unsquashfs lists every file owned by 0/0 with its mode", async (t) => {
  if (!needTools(t)) return;
  const { path } = buildSquashfs({ tree: tree(t), cacheDir: scratch(t), key: "abc", epoch });
  const listing = execFileSync("unsquashfs", ["-lln", path], { encoding: "utf8" }).trim().split("\n");
  const entries = listing.map((l) => l.split(/\s+/)).map((f) => ({ mode: f[0], owner: f[1], path: f[5] }));
  t.same(entries.map((e) => e.path), ["squashfs-root", "squashfs-root/file", "squashfs-root/link", "squashfs-root/sub", "squashfs-root/sub/inner"]);
  t.ok(entries.every((e) => e.owner === "0/0"), "all owned by root");
  t.same(entries.map((e) => e.mode), ["drwxr-xr-x", "-rwsr-x--x", "lrwxrwxrwx", "drwx------", "-rw-r--r--"]);
});

t.test("extracted files have their contents, the link and the epoch as mtime", async (t) => {
  if (!needTools(t)) return;
  const { path } = buildSquashfs({ tree: tree(t), cacheDir: scratch(t), key: "abc", epoch });
  const out = join(scratch(t), "out");
  execFileSync("unsquashfs", ["-d", out, "-no-progress", path], { stdio: "ignore" });
  t.equal(readFileSync(join(out, "file"), "utf8"), "hello\n");
  t.equal(readFileSync(join(out, "sub/inner"), "utf8"), "inner\n");
  t.equal(readlinkSync(join(out, "link")), "file");
  for (const p of ["file", "link", "sub", "sub/inner"]) t.equal(lstatSync(join(out, p)).mtimeMs / 1000, epoch, `${p} mtime`);
});

t.test("a missing tree is an error naming mksquashfs, leaving no image behind", async (t) => {
  if (!needTools(t)) return;
  const cacheDir = scratch(t);
  t.throws(() => buildSquashfs({ tree: join(dirname(cacheDir), "kiln-no-such-tree"), cacheDir, key: "abc", epoch }), {
    message: /^mksquashfs failed: .*kiln-no-such-tree/,
  });
  t.same(readdirSync(cacheDir), []);
});
