// The initramfs: a tiny tree archived, compressed with zstd and xz,
// decompressed and listed back with cpio(1); the same tree, the same bytes.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { buildInitramfs, compress, treeEntries } from "../../src/image/initramfs.js";

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-initramfs-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether `cmd` is on PATH; when not, fails on CI and skips elsewhere. */
function need(t: Test, cmd: string, pkg: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    const msg = `${cmd} is not installed: apt-get install ${pkg}`;
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return false;
  }
}

/** A tiny tree: /init, a module, a link. */
function tinyTree(t: Test): string {
  const dir = scratch(t);
  writeFileSync(join(dir, "init"), "#!/usr/bin/node\n", { mode: 0o755 });
  mkdirSync(join(dir, "lib/modules"), { recursive: true });
  writeFileSync(join(dir, "lib/modules/loop.ko"), Buffer.alloc(1000, 7));
  symlinkSync("lib", join(dir, "lib64"));
  return dir;
}

const expected = ["init", "lib", "lib/modules", "lib/modules/loop.ko", "lib64"];

for (const [how, pkg] of [["zstd", "zstd"], ["xz", "xz-utils"]] as const) {
  t.test(`${how}: decompresses and lists back with cpio -t`, async (t) => {
    if (!need(t, how, pkg) || !need(t, "cpio", "cpio")) return;
    const img = buildInitramfs({ entries: treeEntries(tinyTree(t)), compress: how });
    const cpio = execFileSync(how, ["-dc"], { input: img });
    const listed = execFileSync("cpio", ["-t", "--quiet"], { input: cpio, encoding: "utf8" }).trim().split("\n");
    t.same(listed, expected);
  });

  t.test(`${how}: the same tree gives the same bytes`, async (t) => {
    if (!need(t, how, pkg)) return;
    const tree = tinyTree(t);
    const out = join(scratch(t), "initramfs");
    const a = buildInitramfs({ entries: treeEntries(tree), compress: how, mtime: 0, out });
    t.ok(a.equals(buildInitramfs({ entries: treeEntries(tree), compress: how, mtime: 0 })));
    t.ok(a.equals(execFileSync("cat", [out])), "written to out");
  });
}

t.test("none: the bare archive", async (t) => {
  const img = buildInitramfs({ entries: [{ path: "/init", type: "file", data: "x" }], compress: "none" });
  t.equal(img.subarray(0, 6).toString(), "070701");
  t.ok(compress(img, "none").equals(img));
});

t.test("xz output carries the CRC32 check the kernel needs", async (t) => {
  if (!need(t, "xz", "xz-utils")) return;
  const img = buildInitramfs({ entries: [{ path: "/init", type: "file", data: "x" }], compress: "xz" });
  t.equal(img[7], 0x01, "stream flags: check type 1 (CRC32)");
});

t.test("device nodes in a tree are refused with what to do", async (t) => {
  const dir = scratch(t);
  execFileSync("mkfifo", [join(dir, "fifo")]);
  t.throws(() => treeEntries(dir, "/"), /fifo is neither a file, a directory nor a symlink: declare devices as chardev entries/);
});
