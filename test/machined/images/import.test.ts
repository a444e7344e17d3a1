// Importing OCI archives into a real containerd through its gRPC API: the
// pause image the builder makes from Debian's static catatonit, run with
// ctr afterwards to prove containerd can unpack and run what was imported.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { ociImageArchive } from "../../../src/image/oci-image.js";
import { importImageCache } from "../../../src/machined/images/image-cache.js";
import { importArchive, MAX_DOC, MAX_ENTRIES } from "../../../src/machined/images/import-archive.js";
import { listImages } from "../../../src/machined/inspect/images.js";
import { cannotRun, ctr, startContainerd } from "../containerd.js";

const catatonit = "/usr/bin/catatonit";
const skip = cannotRun() || (!existsSync(catatonit) && process.env.CI !== "true" && "needs catatonit (apt-get install catatonit)");
const name = "kiln.local/pause:test";

/** The pause image's archive, written to `dir`. */
async function pauseArchive(dir: string, file = "pause.tar"): Promise<{ path: string; manifestDigest: string; archive: Buffer }> {
  const { archive, manifestDigest } = await ociImageArchive({ name, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  const path = join(dir, file);
  writeFileSync(path, archive);
  return { path, manifestDigest, archive };
}

t.test("the pause image goes into containerd's k8s.io namespace and runs", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const { path, manifestDigest } = await pauseArchive(dir);
  let progress = 0;
  const got = await importArchive(path, { socket, namespace: "k8s.io", onProgress: (n) => (progress = n) });
  t.same(got, [{ name, digest: manifestDigest, mediaType: "application/vnd.oci.image.manifest.v1+json" }]);
  t.ok(progress > 0, "progress counts the archive's bytes");
  t.match(ctr(socket, "-n", "k8s.io", "images", "ls", "-q"), new RegExp(`^${name.replace(/[.]/g, "\\.")}$`, "m"), "ctr lists it");
  t.match(ctr(socket, "-n", "k8s.io", "run", "--rm", name, "pause-run", "/catatonit", "--version"), /version \d+\.\d+\.\d+_catatonit/, "containerd unpacks and runs it");
  t.same(await importArchive(path, { socket, namespace: "k8s.io" }), got, "importing again changes nothing and does not fail");
  t.equal(ctr(socket, "-n", "default", "images", "ls", "-q").trim(), "", "other namespaces untouched");
  const listed = await listImages(socket, "");
  t.match(listed, [{ namespace: "k8s.io", name, digest: manifestDigest, mediaType: "application/vnd.oci.image.manifest.v1+json" }], "listImages shows it, in its namespace");
  t.ok(listed[0]!.size > 0 && listed[0]!.created instanceof Date);
  t.same(await listImages(socket, "default"), [], "one namespace asked, that namespace only");
});

t.test("a damaged or foreign archive is refused with what is wrong, and names no image", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const { archive } = await pauseArchive(dir);
  // One byte of catatonit changed inside the layer: containerd refuses the blob's digest.
  const at = archive.indexOf(Buffer.from("catatonit"), 2048);
  const damaged = Buffer.from(archive);
  damaged[at + 4096] = (damaged[at + 4096]! + 1) % 256;
  writeFileSync(join(dir, "damaged.tar"), damaged);
  await t.rejects(importArchive(join(dir, "damaged.tar"), { socket, namespace: "k8s.io" }), /digest/i);
  writeFileSync(join(dir, "docker.tar"), await tarWith("manifest.json", "[]"));
  await t.rejects(importArchive(join(dir, "docker.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: /a docker archive .*oci-archive/ });
  writeFileSync(join(dir, "junk.tar"), await tarWith("hello.txt", "hi"));
  await t.rejects(importArchive(join(dir, "junk.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: /not an OCI image archive/ });
  t.equal(ctr(socket, "-n", "k8s.io", "images", "ls", "-q").trim(), "", "nothing was named");
});

t.test("docker save of Docker 25+ (an OCI layout, its manifest.json first in name order) is imported", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const { archive, manifestDigest } = await pauseArchive(dir);
  const files = await filesOf(archive);
  const manifest = JSON.stringify([{ Config: "blobs/sha256/x", RepoTags: [name], Layers: [] }]);
  const sorted = [...files, ["manifest.json", Buffer.from(manifest)] as [string, Buffer]].sort(([a], [b]) => a.localeCompare(b));
  t.ok(sorted.findIndex(([n]) => n === "manifest.json") < sorted.findIndex(([n]) => n === "oci-layout"), "manifest.json comes before oci-layout");
  writeFileSync(join(dir, "docker25.tar"), await tarOf(sorted));
  t.same(await importArchive(join(dir, "docker25.tar"), { socket, namespace: "k8s.io" }), [{ name, digest: manifestDigest, mediaType: "application/vnd.oci.image.manifest.v1+json" }]);
});

t.test("bytes that are not a tar, or a tar cut short, are refused as invalid, naming the archive", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const { archive } = await pauseArchive(dir);
  writeFileSync(join(dir, "noise.tar"), Buffer.alloc(4096, 7));
  await t.rejects(importArchive(join(dir, "noise.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: /noise\.tar: not a tar archive, or one cut short \(.*\): give an OCI image archive/ });
  writeFileSync(join(dir, "cut.tar"), archive.subarray(0, 1000));
  await t.rejects(importArchive(join(dir, "cut.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: /cut\.tar: not a tar archive, or one cut short/ });
});

t.test("the image cache: every archive of the directory into k8s.io, once a boot", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const cache = join(dir, "images");
  mkdirSync(cache);
  await pauseArchive(cache);
  writeFileSync(join(cache, "README"), "not an archive: ignored");
  const got = await importImageCache(cache, socket);
  t.same(got.map((i) => i.name), [name]);
  t.match(ctr(socket, "-n", "k8s.io", "images", "ls", "-q"), name);
  t.equal(await importImageCache(cache, socket), got, "the second call (a kubelet restart) does not import again");
  const broken = join(dir, "broken");
  mkdirSync(broken);
  writeFileSync(join(broken, "x.tar"), await tarWith("hello.txt", "hi"));
  await t.rejects(importImageCache(broken, socket), /importing the image cache's x\.tar into containerd: .*not an OCI image archive/);
});

t.test("an archive past the entry count or the in-memory size is refused, naming the limit", { skip, timeout: 120_000 }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => [`f${i}`, ""] as const);
  writeFileSync(join(dir, "many.tar"), await tarOf(many));
  await t.rejects(importArchive(join(dir, "many.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: `${join(dir, "many.tar")}: more than ${MAX_ENTRIES} entries; is it an image archive?` });
  writeFileSync(join(dir, "big.tar"), await tarOf([["oci-layout", "{}"], ["index.json", " ".repeat(MAX_DOC + 1)]]));
  await t.rejects(importArchive(join(dir, "big.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: `${join(dir, "big.tar")}: index.json is ${MAX_DOC + 1} bytes, over ${MAX_DOC}` });
  writeFileSync(join(dir, "at.tar"), await tarOf([["oci-layout", "{}"], ["index.json", `{"manifests":[]}${" ".repeat(MAX_DOC - 16)}`]]));
  await t.rejects(importArchive(join(dir, "at.tar"), { socket, namespace: "k8s.io" }), { kind: "invalid", message: /index\.json names no image/ }, "at the limit it is read");
});

/** A tar holding one file. */
function tarWith(file: string, text: string): Promise<Buffer> {
  return tarOf([[file, text]]);
}

/** The files of a tar, in order. */
async function filesOf(tar: Buffer): Promise<[string, Buffer][]> {
  const { extract } = await import("tar-stream");
  const ex = extract();
  ex.end(tar);
  const out: [string, Buffer][] = [];
  for await (const e of ex) {
    const parts: Buffer[] = [];
    for await (const p of e) parts.push(p as Buffer);
    if (e.header.type === "file") out.push([e.header.name, Buffer.concat(parts)]);
  }
  return out;
}

/** A tar of [name, text] files, in order. */
async function tarOf(files: readonly (readonly [string, string | Buffer])[]): Promise<Buffer> {
  const { pack } = await import("tar-stream");
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on("end", () => r()));
  for (const [name, text] of files) await new Promise<void>((resolve, reject) => p.entry({ name }, text, (err) => (err ? reject(err) : resolve())));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}
