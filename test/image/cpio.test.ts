// The newc cpio writer: the real cpio(1) reads back what it writes, and the
// same entries always give the same bytes.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { type CpioEntry, epochFromEnv, normalize, writeCpio } from "../../src/image/cpio.js";

/** A scratch dir removed after the test. */
function scratch(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The host's cpio, or undefined (after failing on CI, skipping elsewhere). */
function hostCpio(t: Test): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v cpio"], { encoding: "utf8" }).trim();
  } catch {
    const msg = "cpio(1) is not installed: apt-get install cpio";
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return undefined;
  }
}

/** Runs cpio with the archive on stdin, in `cwd`. */
function runCpio(cpio: string, args: string[], archive: Buffer, cwd: string): string {
  return execFileSync(cpio, args, { input: archive, cwd, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

// Sizes 0..5 exercise every padding case of the data.
const sample: CpioEntry[] = [
  { path: "/usr/bin/tool", type: "file", mode: 0o755, data: "#!/bin/true\n" },
  { path: "/etc/os-release", type: "file", data: "NAME=kiln\n" },
  ...[0, 1, 2, 3, 4, 5].map((n): CpioEntry => ({ path: `/pad/f${n}-${"x".repeat(n)}`, type: "file", data: "abcde".slice(0, n) })),
  { path: "/bin", type: "symlink", target: "usr/bin" },
  { path: "/var/empty", type: "dir", mode: 0o700, uid: 1000, gid: 1000 },
  { path: "/dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 },
];

t.test("cpio -t lists every entry, parents added, sorted, then nothing else", async (t) => {
  const cpio = hostCpio(t);
  if (!cpio) return;
  const listed = runCpio(cpio, ["-t", "--quiet"], writeCpio(sample), scratch(t, "kiln-cpio-")).trim().split("\n");
  t.same(listed, normalize(sample).map((e) => e.path));
  t.ok(listed.includes("usr") && listed.includes("pad"), "parent directories are added");
  t.equal(listed[0], "bin", "sorted bytewise");
});

t.test("cpio -i extracts contents, modes, links and the fixed mtime", async (t) => {
  const cpio = hostCpio(t);
  if (!cpio) return;
  const dir = scratch(t, "kiln-cpio-");
  const files = sample.filter((e) => e.type !== "chardev");
  runCpio(cpio, ["-i", "-d", "--quiet", "--preserve-modification-time", "--no-absolute-filenames"], writeCpio(files, { mtime: 1700000000 }), dir);
  t.equal(readFileSync(join(dir, "etc/os-release"), "utf8"), "NAME=kiln\n");
  for (const n of [0, 1, 2, 3, 4, 5]) t.equal(readFileSync(join(dir, `pad/f${n}-${"x".repeat(n)}`), "utf8"), "abcde".slice(0, n));
  t.equal(lstatSync(join(dir, "usr/bin/tool")).mode & 0o7777, 0o755);
  t.equal(lstatSync(join(dir, "var/empty")).mode & 0o7777, 0o700);
  t.equal(readlinkSync(join(dir, "bin")), "usr/bin");
  t.equal(lstatSync(join(dir, "etc/os-release")).mtimeMs, 1700000000_000);
});

t.test("cpio -tv shows owners and device numbers", async (t) => {
  const cpio = hostCpio(t);
  if (!cpio) return;
  const lines = runCpio(cpio, ["-t", "-v", "-n", "--quiet"], writeCpio(sample), scratch(t, "kiln-cpio-")).split("\n");
  t.match(lines.find((l) => l.endsWith(" dev/console")), /^crw------- +1 0 +0 +5, +1 /);
  t.match(lines.find((l) => l.endsWith(" var/empty")), /^drwx------ +2 1000 +1000 /);
});

t.test("the same entries give the same bytes, in any order", async (t) => {
  const a = writeCpio(sample, { mtime: 0 });
  t.ok(a.equals(writeCpio([...sample].reverse(), { mtime: 0 })));
  t.equal(a.length % 4, 0, "the archive is 4-byte aligned");
  t.equal(a.subarray(0, 6).toString(), "070701");
  t.ok(a.includes("TRAILER!!!\0"));
  t.notOk(a.equals(writeCpio(sample, { mtime: 1 })), "the mtime is in the bytes");
});

t.test("the header is exactly the newc layout", async (t) => {
  const a = writeCpio([{ path: "a", type: "file", mode: 0o644, data: "hi" }], { mtime: 0x10 });
  const fields = a.subarray(6, 110).toString().match(/.{8}/g)!.map((h) => Number.parseInt(h, 16));
  t.same(fields, [1, 0o100644, 0, 0, 1, 0x10, 2, 0, 0, 0, 0, 2, 0]);
  t.equal(a.subarray(110, 112).toString(), "a\0", "name then padding to 4 (110+2=112)");
  t.equal(a.subarray(112, 116).toString(), "hi\0\0", "data padded to 4");
  t.equal(a.subarray(116, 122).toString(), "070701", "the trailer follows");
});

t.test("bad input is refused with what to do", async (t) => {
  t.throws(() => writeCpio([{ path: "a", type: "file", data: "" }, { path: "/a", type: "file", data: "x" }]), /duplicate entry a/);
  t.throws(() => writeCpio([{ path: "a", type: "file", data: "" }, { path: "a/b", type: "file", data: "" }]), /a\/b lies under a, a file/);
  t.throws(() => writeCpio([{ path: "../x", type: "dir" }]), /bad entry path/);
  t.throws(() => writeCpio([{ path: "/", type: "dir" }]), /bad entry path/);
  t.equal(epochFromEnv({ SOURCE_DATE_EPOCH: "42" }), 42);
  t.throws(() => epochFromEnv({ SOURCE_DATE_EPOCH: "yesterday" }), /not a number/);
});

t.test("SOURCE_DATE_EPOCH sets the default mtime", async (t) => {
  const saved = process.env.SOURCE_DATE_EPOCH;
  t.teardown(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  });
  process.env.SOURCE_DATE_EPOCH = "16";
  t.ok(writeCpio(sample).equals(writeCpio(sample, { mtime: 16 })));
  const scratchFile = join(scratch(t, "kiln-cpio-"), "a.cpio");
  writeFileSync(scratchFile, writeCpio(sample));
  t.equal(readFileSync(scratchFile).length % 4, 0);
});
