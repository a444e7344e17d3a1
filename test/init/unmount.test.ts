import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { parseMountInfo, unmountAll } from "../../src/init/unmount.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { MNT } from "../../src/sys/sys.js";

const MOUNTINFO = [
  "1 0 0:20 / / ro,relatime - squashfs /dev/loop0 ro",
  "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw",
  "24 1 0:6 / /dev rw,nosuid - devtmpfs devtmpfs rw,mode=755",
  "30 1 0:30 / /var rw,relatime shared:5 - tmpfs tmpfs rw",
  "31 30 0:31 / /var/lib/with\\040space rw - tmpfs tmpfs rw",
  "",
].join("\n");

/** Writes mountinfo text to a temp file. */
function mountinfoFile(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-mountinfo-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(`${dir}/mountinfo`, text);
  return `${dir}/mountinfo`;
}

t.test("parses mountinfo, optional fields and escaped spaces included", async (t) => {
  const mounts = parseMountInfo(MOUNTINFO);
  t.same(mounts.map((m) => m.mountPoint), ["/", "/proc", "/sys", "/dev", "/var", "/var/lib/with space"]);
  t.same(mounts[4], { id: 30, parentId: 1, mountPoint: "/var", fstype: "tmpfs" });
});

t.test("unmounts newest first and never /", async (t) => {
  const sys = createFakeSys();
  unmountAll(sys, { mountinfo: mountinfoFile(t, MOUNTINFO) });
  t.same(sys.argsOf("umount2"), [["/var/lib/with space", 0], ["/var", 0], ["/dev", 0], ["/sys", 0], ["/proc", 0]]);
});

t.test("detaches what is busy, drops what is already gone, logs the rest and goes on", async (t) => {
  const sys = createFakeSys();
  sys.failOn("umount2", (target: string, flags: number) => target === "/dev" && flags === 0, "EBUSY");
  sys.failOn("umount2", (target: string) => target === "/var/lib/with space", "EINVAL");
  sys.failOn("umount2", (target: string) => target === "/sys", "EPERM");
  const logged: string[] = [];
  unmountAll(sys, { mountinfo: mountinfoFile(t, MOUNTINFO), log: (l) => logged.push(l) });
  t.same(sys.argsOf("umount2"), [
    ["/var/lib/with space", 0],
    ["/var", 0],
    ["/dev", 0],
    ["/dev", MNT.DETACH],
    ["/sys", 0],
    ["/proc", 0],
  ]);
  t.same(logged, ["unmounting /dev: busy, detached", "unmounting /sys: umount2(/sys, 0): EPERM (errno 1)"]);
});

t.test("never throws, even without a mountinfo", async (t) => {
  const logged: string[] = [];
  t.doesNotThrow(() => unmountAll(createFakeSys(), { mountinfo: "/nonexistent/mountinfo", log: (l) => logged.push(l) }));
  t.match(logged, [/cannot read mountinfo/]);
});
