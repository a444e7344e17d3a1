// Writes a verified bundle into a boot slot: the slot's ext4 is made anew
// from the unpacked files (mkfs.ext4 -d, labelled with the slot's GPT name),
// with cmdline.grubenv added for GRUB, then mounted read-only and every file
// hashed again, so a slot that reads back wrong is never offered to GRUB.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { slotCmdlineEnv } from "../../image/grub.js";
import { BUNDLE_FILES, type BundleInfo } from "../../image/upgrade-bundle.js";
import { MNT, MS, type Sys } from "../../sys/sys.js";

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
    await run("/usr/sbin/mkfs.ext4", ["-q", "-F", "-L", label, "-d", bundle.dir, device]);
  } catch (err) {
    throw new Error(`mkfs.ext4 on ${device} (${label}) failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
  d.log(`upgrade: ${device} (${label}) written`);
  await readBack(d, device, label, bundle);
}

/** Mounts the slot read-only and compares every file's sha256 with the bundle's. */
async function readBack(d: SlotWriterDeps, device: string, label: string, bundle: BundleInfo): Promise<void> {
  const dir = d.mountDir ?? "/run/kiln-slot-check";
  mkdirSync(dir, { recursive: true });
  d.sys.mount(device, dir, "ext4", MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, undefined);
  try {
    for (const name of BUNDLE_FILES) {
      const got = await sha256(join(dir, name));
      const want = bundle.files[name].sha256;
      if (got !== want) throw new Error(`${label} reads back wrong: ${name} has sha256 ${got}, expected ${want}; the disk may be failing`);
    }
  } finally {
    d.sys.umount2(dir, MNT.DETACH);
  }
}

export function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (b) => h.update(b))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}
