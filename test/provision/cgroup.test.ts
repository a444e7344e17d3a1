// Where a sandbox's cgroup subtree is: the host's cgroup2 mount, found in
// mountinfo (unified or hybrid), and one subtree a machine and state root.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cgroup2Mount, sandboxCgroup } from "../../src/provision/sandbox/cgroup.js";
import { scratchDir } from "../fixtures/scratch.js";

/** A mountinfo file with these lines. */
function mountinfo(lines: string[]): string {
  const file = join(scratchDir("kiln-mountinfo-"), "mountinfo");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

t.test("finds the cgroup2 mount on a unified host", async (t) => {
  const file = mountinfo([
    "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
    "26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
  ]);
  t.equal(cgroup2Mount(file), "/sys/fs/cgroup");
});

t.test("finds it under /sys/fs/cgroup/unified on a hybrid host, past the v1 hierarchies", async (t) => {
  const file = mountinfo([
    "25 22 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
    "26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
    "34 25 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate",
  ]);
  t.equal(cgroup2Mount(file), "/sys/fs/cgroup/unified");
});

t.test("skips a cgroup2 mount of a subtree and says when there is none", async (t) => {
  t.equal(cgroup2Mount(mountinfo(["40 22 0:23 /kiln/a /mnt/cg rw - cgroup2 cgroup2 rw"])), undefined);
  t.equal(cgroup2Mount(mountinfo(["22 1 0:21 / /sys rw - sysfs sysfs rw"])), undefined);
});

t.test("one subtree a machine, told apart by its state directory", async (t) => {
  const a = sandboxCgroup("/sys/fs/cgroup", "a", "/var/lib/kiln/sandboxes/a");
  t.match(a, /^\/sys\/fs\/cgroup\/kiln\/a-[0-9a-f]{8}$/);
  t.equal(sandboxCgroup("/sys/fs/cgroup", "a", "/var/lib/kiln/sandboxes/a"), a, "the same machine, the same subtree");
  t.not(sandboxCgroup("/sys/fs/cgroup", "a", "/tmp/state/a"), a, "another state root's machine of that name");
});
