// kiln's GPT as machined writes it, read back by the host's sfdisk: the same
// partitions, GUIDs and names as the image builder's for that disk size, a
// valid backup header at the end, and the same bytes sfdisk itself writes
// from the builder's script.
import { closeSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { checkTable, sfdiskScript } from "../../../src/image/sfdisk.js";
import { diskLayout } from "../../../src/machinery/disk-layout.js";
import { gptWrites, guidBytes } from "../../../src/machined/install/gpt.js";
import { tempDir } from "../helpers.js";
import { host } from "./helpers.js";

const MiB = 1 << 20;

/** A sparse disk of `bytes` with an MBR's 55 AA (disk-head.img brings it) and machined's GPT. */
function ourDisk(path: string, bytes: number): ReturnType<typeof gptWrites> {
  writeFileSync(path, "");
  truncateSync(path, bytes);
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.from([0x55, 0xaa]), 0, 2, 510);
  const g = gptWrites(bytes);
  for (const w of g.writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
  closeSync(fd);
  return g;
}

function readAt(path: string, at: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const fd = openSync(path, "r");
  readSync(fd, buf, 0, len, at);
  closeSync(fd);
  return buf;
}

for (const mib of [2048, 5000]) {
  t.test(`sfdisk reads a ${mib} MiB disk's table as the builder's layout`, async (t) => {
    const disk = join(tempDir(t), "disk");
    const { layout } = ourDisk(disk, mib * MiB);
    t.same(layout, diskLayout(mib));
    t.same(checkTable(host("sfdisk", ["-J", disk]), diskLayout(mib)), [], "every partition as the builder lays it out");
    const verify = host("sfdisk", ["--verify", disk]);
    t.notMatch(verify, /corrupt|invalid|mismatch|problem/i, `sfdisk --verify: ${verify}`);
    t.equal(readAt(disk, mib * MiB - 512, 8).toString("latin1"), "EFI PART", "the backup header is the last sector");
  });
}

t.test("the same bytes sfdisk writes from the builder's script", async (t) => {
  const dir = tempDir(t);
  const bytes = 2048 * MiB;
  const ours = join(dir, "ours");
  ourDisk(ours, bytes);
  const theirs = join(dir, "theirs");
  writeFileSync(theirs, "");
  truncateSync(theirs, bytes);
  host("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", theirs], sfdiskScript(diskLayout(2048)));
  t.same(readAt(ours, 446, 16), readAt(theirs, 446, 16), "protective MBR entry");
  t.same(readAt(ours, 512, 33 * 512), readAt(theirs, 512, 33 * 512), "primary header and entries");
  t.same(readAt(ours, bytes - 33 * 512, 33 * 512), readAt(theirs, bytes - 33 * 512, 33 * 512), "backup entries and header");
});

t.test("a GUID that is not one is refused, naming it", async (t) => {
  t.throws(() => guidBytes("kiln"), { message: 'expected a GUID such as 6B696C6E-0000-4000-8000-000000000000, got "kiln"' });
});
