// What a disk holds, judged from its first MiB: images made by the host's own
// tools (mkfs.ext4, sfdisk, mkfs.vfat, mkswap, genisoimage, tar) and bytes
// for what the host cannot make (XFS, LVM); then the disks of a fake sysfs,
// how they are listed for messages, and a disk's named partitions.
import { mkdirSync, openSync, closeSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { sfdiskScript } from "../../../src/image/sfdisk.js";
import { diskLayout } from "../../../src/machinery/disk-layout.js";
import { describeDisks, diskPartitions, listDisks, probeDisk, readHead } from "../../../src/machined/install/probe.js";
import { contentOf, isBundleTar, PROBE_BYTES } from "../../../src/machined/install/signatures.js";
import { tempDir } from "../helpers.js";
import { fakeBlockTree, host } from "./helpers.js";

const MiB = 1 << 20;

/** A sparse image of `mib` MiB in `dir`. */
function image(dir: string, name: string, mib = 8): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, mib * MiB);
  return path;
}

/** Writes bytes at an offset of a file. */
function poke(path: string, at: number, bytes: Buffer | string): void {
  const fd = openSync(path, "r+");
  writeSync(fd, typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes, 0, undefined, at);
  closeSync(fd);
}

const judge = (path: string) => contentOf(readHead(path, PROBE_BYTES));

t.test("names what the host's tools wrote", async (t) => {
  const dir = tempDir(t);
  const cases: [string, (p: string) => void, string][] = [
    ["ext4", (p) => host("mkfs.ext4", ["-q", "-F", p]), "an ext4 file system"],
    ["gpt", (p) => host("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", p], "label: gpt\n,,L\n"), "a GPT partition table"],
    ["mbr", (p) => host("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", p], "label: dos\n,,L\n"), "an MBR partition table"],
    ["vfat", (p) => host("mkfs.vfat", [p]), "a FAT file system"],
    ["swap", (p) => host("mkswap", [p]), "a swap area"],
    ["xfs", (p) => poke(p, 0, "XFSB"), "an XFS file system"],
    ["lvm", (p) => poke(p, 512, Buffer.from(`LABELONE${"\0".repeat(16)}LVM2 001`, "latin1")), "an LVM physical volume"],
    ["data", (p) => poke(p, 700_000, Buffer.from([1])), "data"],
  ];
  for (const [name, make, what] of cases) {
    const p = image(dir, name, name === "ext4" ? 16 : 40);
    make(p);
    t.same(judge(p), { t: "foreign", what }, name);
  }
  const iso = join(dir, "iso");
  mkdirSync(join(dir, "iso-tree"));
  writeFileSync(join(dir, "iso-tree/hello"), "hi");
  host("genisoimage", ["-quiet", "-o", iso, join(dir, "iso-tree")]);
  t.same(judge(iso), { t: "foreign", what: "an ISO 9660 file system" }, "iso9660");
});

t.test("a zeroed disk is blank; kiln's GPT (its disk GUID) is kiln's", async (t) => {
  const dir = tempDir(t);
  t.same(judge(image(dir, "zero")), { t: "blank" });
  const kiln = image(dir, "kiln", 2048);
  host("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", kiln], sfdiskScript(diskLayout(2048)));
  t.same(judge(kiln), { t: "kiln" });
});

t.test("a tar whose first entry is kiln-upgrade.json is install media; another tar is just a tar", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "kiln-upgrade.json"), "{}");
  writeFileSync(join(dir, "other.txt"), "x");
  const bundle = join(dir, "bundle.tar");
  host("tar", ["--format=ustar", "-C", dir, "-cf", bundle, "kiln-upgrade.json", "other.txt"]);
  t.ok(isBundleTar(readHead(bundle, 512)));
  t.same(judge(bundle), { t: "foreign", what: "a kiln-upgrade.tar (install media)" });
  const other = join(dir, "other.tar");
  host("tar", ["--format=ustar", "-C", dir, "-cf", other, "other.txt"]);
  t.notOk(isBundleTar(readHead(other, 512)));
  t.same(judge(other), { t: "foreign", what: "a tar archive" });
});

t.test("probes disks in sysfs: size, content, partitions, missing ones", async (t) => {
  const tree = fakeBlockTree(tempDir(t));
  const vda = tree.addDisk("vda", 2 * 1024 * MiB);
  host("mkfs.ext4", ["-q", "-F", vda]);
  tree.addDisk("vdb", 10 * 1024 * MiB);
  tree.addDisk("loop0", 64 * MiB);
  tree.addDisk("sr0", 0);
  tree.addPartition("vdb", 1, "STATE", 64 * MiB);
  const probed = probeDisk("/dev/vda", tree);
  t.match(probed, { t: "disk", readOnly: false, disk: { name: "vda", sizeBytes: 2 * 1024 * MiB }, content: { t: "foreign", what: "an ext4 file system" } });
  t.same(probeDisk("/dev/vdc", tree), { t: "missing" });
  t.same(probeDisk("/dev/disk/by-id/nothing", tree), { t: "missing" });
  t.same(probeDisk("/dev/vdb1", tree), { t: "partition", of: "/dev/vdb" });
  const disks = listDisks(tree);
  t.same(disks.map((d) => d.name), ["vda", "vdb"], "no loop, empty optical drive or partition");
  t.equal(describeDisks(disks), "vda (2.0 GiB), vdb (10.0 GiB)");
  t.equal(describeDisks(listDisks(tree, ["/dev/vdb"])), "vda (2.0 GiB)", "the install media left out");
  t.equal(describeDisks([]), "none");
  t.same(diskPartitions("vdb", tree), [{ name: "vdb1", device: join(tree.dev, "vdb1"), label: "STATE" }]);
});

t.test("a read-only disk says so", async (t) => {
  const tree = fakeBlockTree(tempDir(t));
  tree.addDisk("sda", 4 * 1024 * MiB, { ro: true });
  t.match(probeDisk("/dev/sda", tree), { t: "disk", readOnly: true, content: { t: "blank" } });
});
