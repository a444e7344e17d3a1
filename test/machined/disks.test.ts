// The machine's disk: partitions by GPT name from sysfs, ext4 detection on a
// real image, and mountDisks' decisions (mount STATE, format a blank
// EPHEMERAL, refuse a blank STATE, keep booting on a failure).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { hasExtFilesystem, mountDisks, namedPartitions, type Partition } from "../../src/machined/disks.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { scratchDir } from "../fixtures/scratch.js";

const scratch = () => scratchDir("kiln-disks-");

t.test("namedPartitions reads PARTNAME from each block device's uevent", async (t) => {
  const sys = scratch();
  const block = join(sys, "class/block");
  for (const [name, uevent] of [
    ["vda", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n"],
    ["vda5", "MAJOR=254\nMINOR=5\nDEVNAME=vda5\nDEVTYPE=partition\nPARTN=5\nPARTNAME=STATE\n"],
    ["vda6", "MAJOR=254\nMINOR=6\nDEVNAME=vda6\nDEVTYPE=partition\nPARTN=6\nPARTNAME=EPHEMERAL\n"],
    ["loop0", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n"],
  ]) {
    mkdirSync(join(block, name!), { recursive: true });
    writeFileSync(join(block, name!, "uevent"), uevent!);
  }
  t.same(namedPartitions(sys, "/dev"), [
    { name: "vda5", device: "/dev/vda5", label: "STATE" },
    { name: "vda6", device: "/dev/vda6", label: "EPHEMERAL" },
  ]);
  t.same(namedPartitions(join(sys, "nowhere")), [], "no sysfs, no partitions");
});

t.test("hasExtFilesystem tells a real ext4 image from a blank one", async (t) => {
  const dir = scratch();
  const blank = join(dir, "blank.img");
  const ext4 = join(dir, "ext4.img");
  writeFileSync(blank, Buffer.alloc(4 << 20));
  writeFileSync(ext4, Buffer.alloc(4 << 20));
  try {
    execFileSync("mkfs.ext4", ["-q", "-F", "-L", "STATE", ext4]);
  } catch (err) {
    if (process.env.CI === "true") throw err;
    t.comment("mkfs.ext4 (e2fsprogs) is not installed");
    return;
  }
  t.equal(hasExtFilesystem(ext4), true);
  t.equal(hasExtFilesystem(blank), false);
});

const parts: Partition[] = [
  { name: "vda5", device: "/dev/vda5", label: "STATE" },
  { name: "vda6", device: "/dev/vda6", label: "EPHEMERAL" },
];

t.test("mounts STATE and formats a blank EPHEMERAL before mounting it on /var", async (t) => {
  const sys = createFakeSys();
  const formatted: string[] = [];
  const lines: string[] = [];
  const r = mountDisks({ sys, log: (l) => lines.push(l), partitions: parts, hasFilesystem: (d) => d === "/dev/vda5", mkfs: (d, l) => formatted.push(`${d}:${l}`) });
  t.same(r.map((x) => x.outcome), ["mounted", "formatted and mounted"]);
  t.same(formatted, ["/dev/vda6:EPHEMERAL"]);
  t.same(sys.calls.filter((c) => c.name === "mount").map((c) => [c.args[0], c.args[1], c.args[2]]), [
    ["/dev/vda5", "/system/state", "ext4"],
    ["/dev/vda6", "/var", "ext4"],
  ]);
  t.match(lines.join("\n"), /formatting \/dev\/vda6 \(EPHEMERAL\) as ext4: first boot/);
});

t.test("a blank STATE is never formatted; a failed mount keeps the tmpfs and says so", async (t) => {
  const sys = createFakeSys();
  sys.failOn("mount", (_source: string, target: string) => target === "/var", "EIO");
  const lines: string[] = [];
  const r = mountDisks({ sys, log: (l) => lines.push(l), partitions: parts, hasFilesystem: (d) => d === "/dev/vda6", mkfs: () => t.fail("no mkfs") });
  t.equal(r[0]!.outcome, "failed");
  t.match(r[0]!.error, /vda5 \(STATE\) has no ext4 filesystem/);
  t.equal(r[1]!.outcome, "failed");
  t.match(r[1]!.error, /EIO/);
  t.match(lines.join("\n"), /\/var stays in memory and is lost at reboot/);
});

t.test("no disk: nothing mounted", async (t) => {
  const sys = createFakeSys();
  const r = mountDisks({ sys, log: () => {}, partitions: [] });
  t.same(r.map((x) => x.outcome), ["absent", "absent"]);
  t.equal(sys.calls.length, 0);
});
