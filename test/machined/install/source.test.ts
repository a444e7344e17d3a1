// Where the installer's bundle comes from: machine.install.image first, else
// install media (a disk holding kiln-upgrade.tar raw), else an error naming
// both. Media is read only as far as the tar goes, so a stick's old bytes
// after it are never read as entries.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import { extractBundle, writeBundle } from "../../../src/machinery/upgrade-bundle.js";
import { describeSource, extractSource, findMedia, findSource } from "../../../src/machined/install/source.js";
import { entrySize, tarExtent } from "../../../src/machined/install/tar-extent.js";
import { tempDir } from "../helpers.js";
import { fakeBlockTree } from "./helpers.js";

const MiB = 1 << 20;

/** A small real bundle (kilnctl image build's format) at `dir`/kiln-upgrade.tar. */
async function bundleIn(dir: string): Promise<string> {
  const f = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const out = join(dir, "kiln-upgrade.tar");
  await writeBundle(out, { vmlinuz: f("k", "kernel".repeat(1000)), initramfs: f("i", "initramfs"), manifest: f("m", "{}"), cmdline: f("c", "console=ttyS0\n") }, { version: "0.2.0", kernel: "6.1.0-test", epoch: 0 });
  return out;
}

const config = (install: Record<string, unknown>) => ({ machine: { type: "worker", install } }) as unknown as MachineConfig;

t.test("machine.install.image wins; else the disk holding the bundle; else an error naming both ways", async (t) => {
  const dir = tempDir(t);
  const tree = fakeBlockTree(dir);
  tree.addDisk("vda", 2048 * MiB);
  t.throws(() => findSource(config({ disk: "/dev/vda" }), tree), {
    name: "InstallError",
    message:
      "machine.install: there is no kiln-upgrade.tar to install from: set machine.install.image to its http(s) URL, or attach install media (a disk holding kiln-upgrade.tar as it is, e.g. written with dd)",
  });
  const media = tree.addDisk("vdb", 0);
  writeFileSync(media, readFileSync(await bundleIn(dir)));
  writeFileSync(join(tree.sys, "class/block/vdb/size"), `${Math.ceil(readFileSync(media).length / 512)}\n`);
  t.equal(findMedia(tree), media);
  t.same(findSource(config({ disk: "/dev/vda" }), tree), { t: "media", device: media });
  t.same(findSource(config({ disk: "/dev/vda", image: "http://10.0.2.2:8080/kiln-upgrade.tar" }), tree), { t: "url", url: "http://10.0.2.2:8080/kiln-upgrade.tar" });
  t.equal(describeSource({ t: "url", url: "https://user:secret@example.com/k.tar" }), "https://example.com/k.tar", "credentials are not printed");
});

t.test("install media is read up to the tar's end, whatever follows it on the device", async (t) => {
  const dir = tempDir(t);
  const media = join(dir, "stick");
  writeFileSync(media, readFileSync(await bundleIn(dir)));
  appendFileSync(media, Buffer.alloc(3 * MiB, 0xa5)); // an old file system's bytes
  const got = await extractSource({ extract: (tar, to) => extractBundle(tar, to) }, { t: "media", device: media }, join(dir, "out"));
  t.equal(got.version, "0.2.0");
  t.equal(readFileSync(join(dir, "out/vmlinuz"), "utf8"), "kernel".repeat(1000));
});

t.test("a URL is streamed into the extraction; an HTTP error names the URL and the status", async (t) => {
  const dir = tempDir(t);
  const tar = readFileSync(await bundleIn(dir));
  const fetch = (async (url: string) => (url.endsWith("missing.tar") ? new Response("no", { status: 404, statusText: "Not Found" }) : new Response(tar))) as unknown as typeof globalThis.fetch;
  const deps = { fetch, extract: (s: NodeJS.ReadableStream, to: string) => extractBundle(s, to) };
  const got = await extractSource(deps, { t: "url", url: "http://h/kiln-upgrade.tar" }, join(dir, "out"));
  t.equal(got.kernel, "6.1.0-test");
  await t.rejects(extractSource(deps, { t: "url", url: "http://h/missing.tar" }, join(dir, "out2")), {
    name: "InstallError",
    message: "fetching machine.install.image http://h/missing.tar: HTTP 404 Not Found; check the URL",
  });
});

t.test("tarExtent passes whole entries and stops at the end-of-archive block", async (t) => {
  const dir = tempDir(t);
  const tar = readFileSync(await bundleIn(dir));
  const junk = Buffer.concat([tar, Buffer.alloc(4096, 0x41)]);
  // Odd-sized chunks, so headers and data straddle them.
  const chunks = async function* () {
    for (let at = 0; at < junk.length; at += 777) yield junk.subarray(at, at + 777);
  };
  const out: Buffer[] = [];
  for await (const b of tarExtent(chunks())) out.push(b);
  const got = Buffer.concat(out);
  t.ok(got.length <= tar.length, `read ${got.length} of a ${tar.length}-byte tar and none of what follows`);
  t.same(got, tar.subarray(0, got.length));
  const header = Buffer.alloc(512);
  header.write("0000001750\0", 124, "latin1");
  t.equal(entrySize(header), 0o1750);
  header[124] = 0x80;
  header.fill(0, 125, 136);
  header.writeUInt32BE(5 * 2 ** 30 % 2 ** 32, 132);
  header[131] = 1;
  t.equal(entrySize(header), 5 * 2 ** 30, "base-256 sizes (over 8 GiB in octal)");
});
