// kiln-upgrade.tar: a bundle written and extracted again, the same bytes
// from the same inputs, GNU tar reading it, and every way a damaged or
// foreign archive is refused, each leaving nothing behind.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack } from "tar-stream";
import t, { type Test } from "tap";
import { BUNDLE_FILES, BundleError, extractBundle, readBundleInfo, writeBundle } from "../../src/machinery/upgrade-bundle.js";

const epoch = 1700000000;

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-bundle-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Small stand-ins for the four files, the initramfs big enough to span many chunks. */
function inputs(dir: string): { vmlinuz: string; initramfs: string; manifest: string; cmdline: string } {
  const f = { vmlinuz: join(dir, "kernel"), initramfs: join(dir, "initramfs"), manifest: join(dir, "manifest.json"), cmdline: join(dir, "cmdline") };
  writeFileSync(f.vmlinuz, Buffer.alloc(70_000, 0x4b));
  writeFileSync(f.initramfs, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)));
  writeFileSync(f.manifest, '{"schema":1}\n');
  writeFileSync(f.cmdline, "console=ttyS0 panic=10 quiet\n");
  return f;
}

/** A bundle of the stand-ins at `dir`/kiln-upgrade.tar. */
async function bundleIn(dir: string, version = "1.2.3"): Promise<string> {
  const out = join(dir, "kiln-upgrade.tar");
  await writeBundle(out, inputs(dir), { version, kernel: "6.1.0-28-amd64", epoch });
  return out;
}

/** A tar of `entries`, as tar-stream writes one (for archives writeBundle would never make). */
async function tarOf(entries: { name: string; data?: string | Buffer; type?: "file" | "symlink"; linkname?: string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve) => p.on("end", () => resolve()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === "symlink") p.entry({ name: e.name, type: "symlink", linkname: e.linkname ?? "", mtime: new Date(0) }, done);
      else p.entry({ name: e.name, mtime: new Date(0) }, e.data ?? "", done);
    });
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** The json and files of a valid bundle, for tampering with. */
function validParts(): { json: Record<string, unknown>; files: Record<string, Buffer> } {
  const files: Record<string, Buffer> = { vmlinuz: Buffer.from("kernel"), initramfs: Buffer.from("initramfs"), "manifest.json": Buffer.from("{}\n"), cmdline: Buffer.from("quiet\n") };
  const digest = (b: Buffer) => ({ size: b.length, sha256: createHash("sha256").update(b).digest("hex") });
  return { json: { format: 1, version: "1.2.3", kernel: "6.1.0-28-amd64", files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, digest(v)])) }, files };
}

/** Extracts `tar` into a fresh directory that must not exist afterwards; returns the error. */
async function refused(t: Test, tar: Buffer | string, pattern: RegExp): Promise<void> {
  const base = scratch(t);
  const path = typeof tar === "string" ? tar : join(base, "bad.tar");
  if (typeof tar !== "string") writeFileSync(path, tar);
  const dir = join(base, "out");
  const err = await extractBundle(path, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof BundleError, `a BundleError: ${String(err)}`);
  t.match((err as Error).message, pattern);
  t.notOk(existsSync(dir), "nothing left behind");
}

t.test("a bundle extracts to the same files and says what it holds", async (t) => {
  const dir = scratch(t);
  const tar = await bundleIn(dir);
  const progress: [number, number][] = [];
  const info = await extractBundle(tar, join(dir, "x/slot"), (done, total) => progress.push([done, total]));
  const src = inputs(join(dir));
  t.same(readdirSync(join(dir, "x/slot")).sort(), [...BUNDLE_FILES].sort());
  t.same(readFileSync(join(dir, "x/slot/vmlinuz")), readFileSync(src.vmlinuz));
  t.same(readFileSync(join(dir, "x/slot/initramfs")), readFileSync(src.initramfs));
  t.equal(readFileSync(join(dir, "x/slot/cmdline"), "utf8"), "console=ttyS0 panic=10 quiet\n");
  t.equal(info.version, "1.2.3");
  t.equal(info.kernel, "6.1.0-28-amd64");
  t.equal(info.dir, join(dir, "x/slot"));
  t.same(info.files.initramfs, { size: 300_000, sha256: createHash("sha256").update(readFileSync(src.initramfs)).digest("hex") });
  t.same(progress.at(-1), [370_000 + 13 + 29, 370_000 + 13 + 29], "progress ends at the total");
  t.ok(progress.length > 2, "and is reported along the way");
});

t.test("a stream extracts like a file", async (t) => {
  const dir = scratch(t);
  const info = await extractBundle(createReadStream(await bundleIn(dir)), join(dir, "slot"));
  t.equal(info.files.cmdline.size, 29);
});

t.test("the same inputs give the same bytes, a ustar GNU tar reads in order", async (t) => {
  const [a, b] = [scratch(t), scratch(t)];
  const first = readFileSync(await bundleIn(a));
  await new Promise((r) => setTimeout(r, 1100));
  const second = readFileSync(await bundleIn(b));
  t.ok(first.equals(second), "byte-identical");
  t.equal(first.subarray(257, 263).toString("latin1"), "ustar\0", "ustar magic");
  const listing = execFileSync("tar", ["--numeric-owner", "-tvf", join(a, "kiln-upgrade.tar")], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  const rows = listing.trim().split("\n").map((l) => l.split(/\s+/));
  t.same(rows.map((r) => r.at(-1)), ["kiln-upgrade.json", ...BUNDLE_FILES], "entries in order");
  for (const r of rows) t.same([r[0], r[1], r[3], r[4]], ["-rw-r--r--", "0/0", "2023-11-14", "22:13"], `${r.at(-1)}: 0644, root, the epoch`);
  const json = JSON.parse(execFileSync("tar", ["-xOf", join(a, "kiln-upgrade.tar"), "kiln-upgrade.json"], { encoding: "utf8" }));
  t.same(Object.keys(json), ["format", "version", "kernel", "files"]);
  t.same(Object.keys(json.files), [...BUNDLE_FILES]);
  const sum = execFileSync("sh", ["-c", `tar -xOf ${join(a, "kiln-upgrade.tar")} initramfs | sha256sum`], { encoding: "utf8" });
  t.equal(sum.split(" ")[0], json.files.initramfs.sha256, "sha256sum agrees");
});

t.test("writeBundle refuses a version that is not semver and leaves no file", async (t) => {
  const dir = scratch(t);
  await t.rejects(bundleIn(dir, "dev"), /version: expected a semantic version like 1\.2\.3, got "dev"/);
  t.same(readdirSync(dir).filter((f) => f.includes(".tar")), []);
});

t.test("a file whose sha256 differs is refused, naming both", async (t) => {
  const { json, files } = validParts();
  const tar = await tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify(json) }, { name: "vmlinuz", data: "KERNEL" }, ...["initramfs", "manifest.json", "cmdline"].map((n) => ({ name: n, data: files[n] }))]);
  const want = (json.files as Record<string, { sha256: string }>).vmlinuz!.sha256;
  const got = createHash("sha256").update("KERNEL").digest("hex");
  await refused(t, tar, new RegExp(`^vmlinuz: sha256 is ${got}, kiln-upgrade\\.json says ${want}: the bundle is damaged; build it again or download it again$`));
});

t.test("a file of the wrong size is refused before it is written", async (t) => {
  const { json, files } = validParts();
  const tar = await tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify(json) }, { name: "vmlinuz", data: files.vmlinuz }, { name: "initramfs", data: "short" }]);
  await refused(t, tar, /^initramfs: 5 bytes, kiln-upgrade\.json says 9: the bundle is damaged/);
});

t.test("a missing file is refused", async (t) => {
  const { json, files } = validParts();
  const tar = await tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify(json) }, ...["vmlinuz", "initramfs", "manifest.json"].map((n) => ({ name: n, data: files[n] }))]);
  await refused(t, tar, /^cmdline: missing from the bundle, which kiln-upgrade\.json lists: the bundle is incomplete/);
});

t.test("an extra entry, a duplicate and a non-file are refused", async (t) => {
  const { json, files } = validParts();
  const all = (extra: { name: string; data?: string; type?: "file" | "symlink"; linkname?: string }) =>
    tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify(json) }, { name: "vmlinuz", data: files.vmlinuz }, extra, ...["initramfs", "manifest.json", "cmdline"].map((n) => ({ name: n, data: files[n] }))]);
  await refused(t, await all({ name: "extra", data: "x" }), /^"extra": not a file a bundle holds \(vmlinuz, initramfs, manifest\.json, cmdline\)/);
  await refused(t, await all({ name: "vmlinuz", data: "kernel" }), /^vmlinuz: in the bundle twice/);
  await refused(t, await all({ name: "cmdline", type: "symlink", linkname: "/etc/shadow" }), /^cmdline: a symlink entry, where a bundle holds only regular files/);
});

t.test("a path that would leave the directory is refused", async (t) => {
  const { json, files } = validParts();
  for (const name of ["../vmlinuz", "sub/initramfs", "/etc/cmdline", ".."]) {
    const tar = await tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify(json) }, { name, data: files.vmlinuz }]);
    await refused(t, tar, /: a path, where a bundle holds only plain file names/);
  }
});

t.test("not a tar, an empty file and a truncated bundle are refused", async (t) => {
  await refused(t, Buffer.from("this is not a tar archive\n".repeat(40)), /^not a kiln upgrade bundle: .*bad\.tar is not a tar archive/);
  await refused(t, Buffer.alloc(0), /^not a kiln upgrade bundle: it holds no entries, expected kiln-upgrade\.json first/);
  const whole = readFileSync(await bundleIn(scratch(t)));
  await refused(t, whole.subarray(0, 512 * 3 + 150_000), /ends in the middle of an entry: the bundle is truncated/);
  await refused(t, join(scratch(t), "absent.tar"), /^extracting .*absent\.tar: ENOENT/);
});

t.test("the first entry must be kiln-upgrade.json, a valid one", async (t) => {
  const { json, files } = validParts();
  await refused(t, await tarOf([{ name: "foo", data: "x" }]), /^not a kiln upgrade bundle: its first entry is "foo", expected kiln-upgrade\.json/);
  await refused(t, await tarOf([{ name: "vmlinuz", data: files.vmlinuz }, { name: "kiln-upgrade.json", data: JSON.stringify(json) }]), /its first entry is "vmlinuz"/);
  await refused(t, await tarOf([{ name: "kiln-upgrade.json", data: "{" }]), /^kiln-upgrade\.json: not JSON/);
  await refused(t, await tarOf([{ name: "kiln-upgrade.json", data: JSON.stringify({ ...json, format: 2 }) }]), /format 2, but this kiln reads format 1/);
});

t.test("readBundleInfo lists every problem with kiln-upgrade.json", async (t) => {
  const { json } = validParts();
  t.same(Object.keys(readBundleInfo(JSON.stringify(json))), ["version", "kernel", "files"]);
  const bad = { ...json, version: "latest", kernel: "", files: { vmlinuz: { size: -1, sha256: "ABC" }, extra: {} } };
  t.throws(() => readBundleInfo(JSON.stringify(bad)), {
    name: "BundleError",
    message: /version: expected a semantic version.*got "latest"; kernel: .*; files: lists "extra".*; files\.vmlinuz\.size: .*got -1; files\.vmlinuz\.sha256: expected 64 lowercase hex digits, got "ABC"; files\.initramfs: missing; .*files\.cmdline: missing: the bundle is damaged/,
  });
});
