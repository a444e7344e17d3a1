// Fake roots shaped like /proc, /sys, /dev and /run, tiny hand-made
// filesystem headers, and the host tools the real-image tests need.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Test } from "tap";
import type { Roots } from "../../../src/machined/config-sources/source.js";
import { createFakeSys, type FakeSys } from "../../../src/sys/fake.js";
import { tempDir } from "../helpers.js";

export interface FakeMachine extends Roots {
  dir: string;
  cmdline(text: string): void;
  fwCfg(content: string | undefined): void;
  /** A block device `name` holding `header` (its first bytes); `files` appear when it is mounted. */
  disk(name: string, header: Buffer, files?: Record<string, string>): void;
  /** Sets a block device's size in /sys (sectors). */
  size(name: string, sectors: number): void;
  /** A Sys whose mount copies a disk's files into the target. */
  fakeSys: FakeSys;
}

/** An empty machine under a temp dir: no cmdline, no disks, no fw_cfg. */
export function fakeMachine(t: Test): FakeMachine {
  const dir = tempDir(t, "kiln-config-sources-");
  const roots = { proc: join(dir, "proc"), sys: join(dir, "sys"), dev: join(dir, "dev"), run: join(dir, "run") };
  for (const d of [roots.proc, join(roots.sys, "class/block"), roots.dev, roots.run]) mkdirSync(d, { recursive: true });
  const contents = new Map<string, string>();
  const sys = createFakeSys();
  sys.respond("mount", ((source: string, target: string) => {
    const from = contents.get(source);
    if (from) cpSync(from, target, { recursive: true });
  }) as never);
  sys.respond("umount2", ((target: string) => {
    for (const f of readdirSync(target)) rmSync(join(target, f), { recursive: true });
  }) as never);
  return {
    ...roots,
    dir,
    fakeSys: sys,
    size: (name, sectors) => writeFileSync(join(roots.sys, "class/block", name, "size"), `${sectors}\n`),
    cmdline: (text) => writeFileSync(join(roots.proc, "cmdline"), `${text}\n`),
    fwCfg: (content) => {
      mkdirSync(join(roots.sys, "firmware/qemu_fw_cfg/by_name"), { recursive: true });
      if (content === undefined) return;
      const raw = join(roots.sys, "firmware/qemu_fw_cfg/by_name/opt/kiln/config/raw");
      mkdirSync(dirname(raw), { recursive: true });
      writeFileSync(raw, content);
    },
    disk: (name, header, files = {}) => {
      mkdirSync(join(roots.sys, "class/block", name), { recursive: true });
      writeFileSync(join(roots.sys, "class/block", name, "size"), `${Math.ceil(header.length / 512)}\n`);
      writeFileSync(join(roots.dev, name), header);
      const content = join(dir, "content", name);
      mkdirSync(content, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(content, f), text);
      contents.set(join(roots.dev, name), content);
    },
  };
}

/** The first 34 KiB of an iso9660 image labelled `label`: a primary volume descriptor at sector 16. */
export function isoHeader(label: string): Buffer {
  const b = Buffer.alloc(32768 + 2048);
  b[32768] = 1;
  b.write("CD001", 32769, "latin1");
  b.write(label.padEnd(32, " "), 32768 + 40, "latin1");
  return b;
}

/** A FAT16 boot sector labelled `label` (in the extended BPB only), as mkfs would write it. */
export function fat16Header(label: string): Buffer {
  const b = Buffer.alloc(65536);
  b.writeUInt16LE(512, 0x0b);
  b[0x0d] = 4;
  b.writeUInt16LE(4, 0x0e);
  b[0x10] = 2;
  b.writeUInt16LE(512, 0x11);
  b.writeUInt16LE(32, 0x16);
  b[0x26] = 0x29;
  b.write(label.padEnd(11, " "), 0x2b, "latin1");
  b.write("FAT16   ", 0x36, "latin1");
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** Whether `cmd` runs; when not, fails on CI (CI=true) and skips elsewhere. */
export function need(t: Test, cmd: string, pkg: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    const msg = `${cmd} is not installed: apt-get install ${pkg}`;
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return false;
  }
}

/** Whether we are root; when not, fails on CI and skips elsewhere. */
export function needRoot(t: Test, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === "true") t.fail(`needs root (${why})`);
  else t.plan(0, `needs root (${why})`);
  return false;
}

/** A real vfat image (mkfs.vfat, FAT `bits`) labelled `label`, with `files` copied in by mcopy; undefined if the tools are missing. */
export function vfatImage(t: Test, label: string, files: Record<string, string>, bits: 12 | 16 | 32 = 12): string | undefined {
  if (!need(t, "mkfs.vfat", "dosfstools") || !need(t, "mcopy", "mtools")) return undefined;
  const dir = tempDir(t, "kiln-vfat-");
  const img = join(dir, "drive.img");
  const sizeKiB = bits === 32 ? 40 * 1024 : bits === 16 ? 16 * 1024 : 1024;
  execFileSync("mkfs.vfat", ["-C", "-F", String(bits), "-n", label, img, String(sizeKiB)], { stdio: "ignore" });
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    execFileSync("mcopy", ["-i", img, join(dir, name), `::${name}`]);
  }
  return img;
}

/** A real iso9660 image (genisoimage, Joliet and Rock Ridge names) labelled `label`; undefined if the tool is missing. */
export function isoImage(t: Test, label: string, files: Record<string, string>): string | undefined {
  if (!need(t, "genisoimage", "genisoimage")) return undefined;
  const dir = tempDir(t, "kiln-iso-");
  mkdirSync(join(dir, "content"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, "content", name), text);
  const img = join(dir, "drive.iso");
  execFileSync("genisoimage", ["-quiet", "-o", img, "-V", label, "-J", "-r", join(dir, "content")], { stdio: "ignore" });
  return img;
}
