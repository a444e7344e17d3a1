import t from "tap";
import { mergeOptions, parseMountinfo, parseMountinfoLine, readMounts } from "../../../src/machined/inspect/mounts.js";

t.test("parses a mountinfo line with optional fields and escaped spaces", async (t) => {
  const line = "36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 shared:2 - ext4 /dev/sda1 rw,errors=continue";
  t.same(parseMountinfoLine(line), { source: "/dev/sda1", target: "/mnt/my disk", fstype: "ext4", options: "rw,noatime,errors=continue" });
});

t.test("merges superblock options after the mount's own, without repeating rw or ro", async (t) => {
  t.equal(mergeOptions("ro,nosuid", "rw,size=100k,mode=755"), "ro,nosuid,size=100k,mode=755");
});

t.test("skips lines it cannot parse", async (t) => {
  t.same(parseMountinfo("garbage\n\n22 1 0:5 / /proc rw - proc proc rw\n"), [{ source: "proc", target: "/proc", fstype: "proc", options: "rw" }]);
});

t.test("reads this host's mounts with their sizes", async (t) => {
  const mounts = await readMounts("/proc");
  const root = mounts.find((m) => m.target === "/");
  t.ok(root, "/ is mounted");
  t.ok(root!.size > 0 && root!.available <= root!.size, "/ has a size from statfs");
  t.match(mounts.find((m) => m.target === "/proc"), { fstype: "proc", size: 0 });
});
