// Source "config-drive": a block device labelled kiln-config or cidata,
// mounted read-only under /run for a moment. Over fake roots (a Sys whose
// mount copies files), then a real vfat image on a real loop device.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import t from "tap";
import { configDriveSource, isCloudInit } from "../../../src/machined/config-sources/config-drive.js";
import { createLibcSys } from "../../../src/sys/libc.js";
import { MS } from "../../../src/sys/sys.js";
import { worker } from "../../config/fixtures.js";
import { tempDir } from "../helpers.js";
import { type FakeMachine, fakeMachine, fat16Header, isoHeader, need, needRoot, vfatImage } from "./helpers.js";

/** Runs the source over `m`, collecting its notes. */
async function run(m: FakeMachine) {
  const notes: string[] = [];
  const result = await configDriveSource({ sys: m.fakeSys, roots: m }).fetch((n) => void notes.push(n));
  return { result, notes };
}

const cloudConfig = "#cloud-config\nusers:\n  - name: admin\n";

t.test("finds config.yaml on a partition labelled KILN-CONFIG, mounted read-only, then unmounted", async (t) => {
  const m = fakeMachine(t);
  m.disk("vda", Buffer.alloc(4096));
  m.disk("vdb1", fat16Header("KILN-CONFIG"), { "config.yaml": worker({ hostname: "a" }), "user-data": "ignored" });
  const { result, notes } = await run(m);
  t.same(result, { t: "found", yaml: worker({ hostname: "a" }), origin: `config.yaml on ${m.dev}/vdb1 (KILN-CONFIG)` });
  t.same(notes, [`vfat "KILN-CONFIG" on ${m.dev}/vdb1`]);
  const [mount] = m.fakeSys.argsOf("mount");
  t.match(mount, [`${m.dev}/vdb1`, new RegExp(`^${m.run}/kiln-config-drive-`), "vfat", MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC]);
  t.same(m.fakeSys.argsOf("umount2"), [[mount![1], 0]]);
  t.same(readdirSync(m.run), [], "the mount point is removed");
});

t.test("reads user-data when there is no config.yaml, on an iso9660 labelled cidata", async (t) => {
  const m = fakeMachine(t);
  m.disk("sr0", isoHeader("cidata"), { "user-data": worker({}), "meta-data": "instance-id: x\n" });
  t.same((await run(m)).result, { t: "found", yaml: worker({}), origin: `user-data on ${m.dev}/sr0 (cidata)` });
  t.equal(m.fakeSys.argsOf("mount")[0]![2], "iso9660");
});

t.test("skips a cloud-init user-data as not a kiln config, and goes on to the next drive", async (t) => {
  const m = fakeMachine(t);
  m.disk("sr0", isoHeader("CIDATA"), { "user-data": cloudConfig });
  m.disk("vdc", fat16Header("kiln-config"), { "config.yaml": worker({}) });
  const { result, notes } = await run(m);
  t.equal(result.t, "found");
  t.same(notes.slice(0, 2), [`iso9660 "CIDATA" on ${m.dev}/sr0`, `user-data on ${m.dev}/sr0 (CIDATA) is a cloud-init document, not a kiln config; skipped`]);
});

t.test("says why when nothing fits: no labelled drive, an empty drive, a failed mount", async (t) => {
  const m = fakeMachine(t);
  m.disk("vda", fat16Header("DATA"), { "config.yaml": worker({}) });
  t.same((await run(m)).result, { t: "none", why: "no block device labelled kiln-config or cidata" });
  m.disk("vdb", fat16Header("CIDATA"), { "meta-data": "x" });
  t.same((await run(m)).result, { t: "none", why: `no config.yaml or user-data on ${m.dev}/vdb (CIDATA)` });
  m.fakeSys.failOn("mount", undefined, "ENODEV");
  t.match((await run(m)).result, { t: "none", why: new RegExp(`^mounting ${m.dev}/vdb \\(vfat\\): mount\\(.*\\): ENODEV`) });
  t.same(readdirSync(m.run), [], "no mount point left behind");
});

t.test("a device of size 0 is not opened (empty loop devices, CD drives without a disc)", async (t) => {
  const m = fakeMachine(t);
  m.disk("loop0", fat16Header("KILN-CONFIG"), { "config.yaml": worker({}) });
  m.size("loop0", 0);
  t.same((await run(m)).result, { t: "none", why: "no block device labelled kiln-config or cidata" });
});

t.test("tells cloud-init documents from kiln configs", async (t) => {
  t.ok(isCloudInit(cloudConfig));
  t.ok(isCloudInit("#!/bin/sh\necho hi\n"));
  t.ok(isCloudInit("Content-Type: multipart/mixed; boundary=x\n"));
  t.notOk(isCloudInit(worker({})));
  t.notOk(isCloudInit(`# kiln\n${worker({})}`));
  t.notOk(isCloudInit(`#cloud-config\n${worker({})}`), "a kiln config behind the marker is a kiln config");
});

t.test("real: a vfat image on a loop device, found, mounted and read with the libc Sys", async (t) => {
  if (!needRoot(t, "losetup, mount") || !need(t, "losetup", "util-linux")) return;
  const img = vfatImage(t, "KILN-CONFIG", { "config.yaml": worker({ hostname: "loop" }) });
  if (!img) return;
  const loop = execFileSync("losetup", ["--find", "--show", "-r", img], { encoding: "utf8" }).trim();
  t.teardown(() => execFileSync("losetup", ["-d", loop]));
  const name = loop.replace("/dev/", "");
  // Real /dev and /sys, but only the loop device listed: a fake /sys/class/block pointing at it.
  const m = fakeMachine(t);
  m.disk(name, Buffer.alloc(0));
  m.size(name, 2048);
  const run = tempDir(t, "kiln-run-");
  const notes: string[] = [];
  const result = await configDriveSource({ sys: createLibcSys(), roots: { ...m, dev: "/dev", run } }).fetch((n) => void notes.push(n));
  t.same(notes[0], `vfat "KILN-CONFIG" on ${loop}`, "the label read from the real block device");
  if (readFileSync("/proc/filesystems", "utf8").includes("\tvfat\n")) {
    t.same(result, { t: "found", yaml: worker({ hostname: "loop" }), origin: `config.yaml on ${loop} (KILN-CONFIG)` });
  } else {
    // This kernel cannot mount vfat (no module, none loadable): the failure must say so.
    t.comment("this kernel has no vfat filesystem: checking the reported mount failure instead of the read");
    t.match(result, { t: "none", why: new RegExp(`^mounting ${loop} \\(vfat\\): mount\\(.*\\): ENODEV`) });
  }
  t.same(readdirSync(run), [], "nothing left mounted or behind under the run directory");
});
