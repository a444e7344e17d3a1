// Writes a verified bundle into a boot slot: the slot's ext4 is made anew
// from the unpacked files (mkfs.ext4 -d, labelled with the slot's GPT name),
// with cmdline.grubenv added for GRUB, then mounted read-only and every file
// hashed again, so a slot that reads back wrong is never offered to GRUB.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { slotCmdlineEnv } from "../../machinery/grub.js";
import { imagePaths, machinedPaths } from "../../machinery/paths.js";
import { BUNDLE_FILES, type BundleInfo, digestFile } from "../../machinery/upgrade-bundle.js";
import type { Sys } from "../../sys/sys.js";
import { RO_MOUNT, withMount } from "../disks.js";

const run = promisify(execFile);

export interface SlotWriterDeps {
  sys: Sys;
  log(line: string): void;
  /** Where the slot is mounted to read it back. */
  mountDir?: string;
}

/** Makes `device` an ext4 labelled `label` holding the bundle's files, and checks it reads back. */
export async function writeSlot(d: SlotWriterDeps, device: string, label: string, bundle: BundleInfo): Promise<void> {
  writeFileSync(join(bundle.dir, "cmdline.grubenv"), slotCmdlineEnv(readFileSync(join(bundle.dir, "cmdline"), "utf8")));
  try {
    await run(imagePaths.mkfsExt4, ["-q", "-F", "-L", label, "-d", bundle.dir, device]);
  } catch (err) {
    throw new Error(`mkfs.ext4 on ${device} (${label}) failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
  d.log(`upgrade: ${device} (${label}) written`);
  await readBack(d, device, label, bundle);
}

/** Mounts the slot read-only and compares every file's sha256 with the bundle's. */
async function readBack(d: SlotWriterDeps, device: string, label: string, bundle: BundleInfo): Promise<void> {
  const mount = { device, dir: d.mountDir ?? machinedPaths.slotCheckMount, fstype: "ext4", flags: RO_MOUNT, log: d.log };
  await withMount(d.sys, mount, async (dir) => {
    for (const name of BUNDLE_FILES) {
      const got = (await digestFile(join(dir, name))).sha256;
      const want = bundle.files[name].sha256;
      if (got !== want) throw new Error(`${label} reads back wrong: ${name} has sha256 ${got}, expected ${want}; the disk may be failing`);
    }
  });
}
