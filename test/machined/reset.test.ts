// Reset's pieces: which wipe targets are valid, what a request does on a
// machine with or without its disk, and the wipe itself (over the fake Sys,
// with injected and with real mkfs on image files).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { hasExtFilesystem, type Partition } from "../../src/machined/disks.js";
import { clearDirs, parseWipe, planReset, wipePartitions } from "../../src/machined/reset.js";
import { MNT, MS } from "../../src/sys/sys.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { tempDir } from "./helpers.js";

const disk: Partition[] = [
  { name: "vda4", device: "/dev/vda4", label: "BOOT-A" },
  { name: "vda5", device: "/dev/vda5", label: "STATE" },
  { name: "vda6", device: "/dev/vda6", label: "EPHEMERAL" },
];

t.test("parseWipe takes state and ephemeral in a fixed order, none meaning both", async (t) => {
  t.same(parseWipe([]), { value: ["state", "ephemeral"] });
  t.same(parseWipe(["ephemeral", "state"]), { value: ["state", "ephemeral"] });
  t.same(parseWipe(["ephemeral"]), { value: ["ephemeral"] });
});

t.test("parseWipe names every unknown target and the allowed ones", async (t) => {
  t.same(parseWipe(["state", "boot", "STATE"]), { error: 'expected wipe targets among state, ephemeral, got unknown "boot", "STATE"' });
});

t.test("planReset refuses unknown targets as invalid", async (t) => {
  t.throws(() => planReset({ graceful: false, reboot: false, wipe: ["var"] }, disk, "/system/state"), {
    kind: "invalid",
    message: /got unknown "var"/,
  });
});

t.test("planReset on a disk: STATE made anew, EPHEMERAL blanked, forced power-off by default", async (t) => {
  t.same(planReset({ graceful: false, reboot: false, wipe: [] }, disk, "/system/state"), {
    action: "poweroff",
    force: true,
    targets: ["state", "ephemeral"],
    partitions: [
      { label: "STATE", device: "/dev/vda5", how: "mkfs" },
      { label: "EPHEMERAL", device: "/dev/vda6", how: "zero" },
    ],
    dirs: [],
  });
  const p = planReset({ graceful: true, reboot: true, wipe: ["ephemeral"] }, disk, "/system/state");
  t.same([p.action, p.force, p.partitions.map((x) => x.label), p.dirs], ["reboot", false, ["EPHEMERAL"], []]);
});

t.test("planReset without a disk empties the STATE directory; /var is a tmpfs already", async (t) => {
  const p = planReset({ graceful: false, reboot: true, wipe: [] }, [], "/system/state");
  t.same([p.partitions, p.dirs], [[], ["/system/state"]]);
  t.same(planReset({ graceful: false, reboot: true, wipe: ["ephemeral"] }, [], "/s").dirs, []);
});

t.test("clearDirs empties a directory but keeps it (it may be a mount point)", async (t) => {
  const dir = join(tempDir(t), "state");
  mkdirSync(join(dir, "pki"), { recursive: true });
  writeFileSync(join(dir, "config.yaml"), "x");
  writeFileSync(join(dir, "pki", "ca.key"), "k");
  const logged: string[] = [];
  clearDirs([dir], (l) => void logged.push(l));
  t.same(readdirSync(dir), []);
  t.same(logged, [`reset: emptied ${dir}`]);
});

t.test("wipePartitions mounts devtmpfs back, wipes each, syncs and detaches /dev", async (t) => {
  const sys = createFakeSys();
  const done: string[] = [];
  const logged: string[] = [];
  const parts = [
    { label: "STATE", device: "/dev/vda5", how: "mkfs" as const },
    { label: "EPHEMERAL", device: "/dev/vda6", how: "zero" as const },
  ];
  wipePartitions({ sys, log: (l) => void logged.push(l), mkfs: (dev, label) => void done.push(`mkfs ${dev} ${label}`), zero: (dev) => void done.push(`zero ${dev}`) }, parts);
  t.same(done, ["mkfs /dev/vda5 STATE", "zero /dev/vda6"]);
  t.same(sys.calls.map((c) => c.name), ["mount", "sync", "umount2"]);
  t.same(sys.argsOf("mount"), [["devtmpfs", "/dev", "devtmpfs", MS.NOSUID | MS.NOEXEC, "mode=0755"]]);
  t.same(sys.argsOf("umount2"), [["/dev", MNT.DETACH]]);
  t.same(logged, ["reset: /dev/vda5 (STATE) made anew, empty", "reset: /dev/vda6 (EPHEMERAL) blanked; the next boot formats it"]);
});

t.test("wipePartitions logs a failed wipe and still wipes the rest", async (t) => {
  const sys = createFakeSys();
  sys.failOn("mount", undefined, "EBUSY");
  const logged: string[] = [];
  const zeroed: string[] = [];
  const mkfs = () => {
    throw new Error("/dev/vda5 is apparently in use by the system");
  };
  const parts = [
    { label: "STATE", device: "/dev/vda5", how: "mkfs" as const },
    { label: "EPHEMERAL", device: "/dev/vda6", how: "zero" as const },
  ];
  wipePartitions({ sys, log: (l) => void logged.push(l), mkfs, zero: (d) => void zeroed.push(d) }, parts);
  t.same(zeroed, ["/dev/vda6"]);
  t.match(logged, [/^reset: mounting \/dev: .*EBUSY/, "reset: wiping /dev/vda5 (STATE) failed: /dev/vda5 is apparently in use by the system", /EPHEMERAL\) blanked/]);
});

t.test("wipePartitions with nothing to wipe touches nothing", async (t) => {
  const sys = createFakeSys();
  wipePartitions({ sys, log: () => {} }, []);
  t.same(sys.calls, []);
});

const haveMkfs = existsSync("/usr/sbin/mkfs.ext4");

t.test("the real wipe: STATE becomes an empty ext4, EPHEMERAL loses its file system", { skip: !haveMkfs && "no /usr/sbin/mkfs.ext4" }, async (t) => {
  const dir = tempDir(t);
  const [state, ephemeral] = [join(dir, "state.img"), join(dir, "ephemeral.img")];
  for (const [img, label] of [[state, "STATE"], [ephemeral, "EPHEMERAL"]] as const) {
    writeFileSync(img, Buffer.alloc(16 << 20));
    execFileSync("/usr/sbin/mkfs.ext4", ["-q", "-F", "-L", label, "-U", "11111111-2222-3333-4444-555555555555", img]);
  }
  wipePartitions({ sys: createFakeSys(), log: () => {} }, [
    { label: "STATE", device: state, how: "mkfs" },
    { label: "EPHEMERAL", device: ephemeral, how: "zero" },
  ]);
  t.ok(hasExtFilesystem(state), "STATE has a file system again");
  t.notOk(hasExtFilesystem(ephemeral), "EPHEMERAL has none: the next boot formats it");
  t.notMatch(readFileSync(state).subarray(0, 2 << 20).toString("hex"), "11111111222233334444555555555555", "a new file system, not the old one");
  t.equal(readFileSync(ephemeral).subarray(0, 4 << 20).some((b) => b !== 0), false, "first 4 MiB zeroed");
});
