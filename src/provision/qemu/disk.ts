// A VM's own disk: a copy of the image's disk.raw (sparse), grown to the
// size asked for, with the GPT's backup header moved to the new end and
// EPHEMERAL, the last partition, stretched over the new space. machined
// formats EPHEMERAL on first boot. Uses sfdisk (Debian's fdisk package).
import { execFileSync } from "node:child_process";
import { runTool } from "./host-tool.js";
import { existsSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";

/** "4G", "512M", "10240" (MiB) → bytes; undefined for a bad size. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([MGT]i?B?)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "M").charAt(0).toUpperCase();
  const mib = Number(m[1]) * ({ M: 1, G: 1024, T: 1024 * 1024 } as Record<string, number>)[unit]!;
  return mib > 0 ? mib * 2 ** 20 : undefined;
}

/** The partition EPHEMERAL is in disk.raw's layout (src/machinery/disk-layout.ts): the last one. */
export const EPHEMERAL_PARTITION = 6;

/** The image's disk.raw, or an error saying how to get one (images from before disks had none). */
export function diskRawOf(image: string): string {
  const file = join(image, "disk.raw");
  if (!existsSync(file)) throw new Error(`${image} has no disk.raw: rebuild it with kilnctl image build`);
  return file;
}

/** Copies `diskRaw` to `out` and grows it to `sizeBytes` (refused when smaller than the image). */
export function prepareDisk(diskRaw: string, out: string, sizeBytes: number): void {
  const have = statSync(diskRaw).size;
  if (sizeBytes < have) throw new Error(`--disk ${Math.round(sizeBytes / 2 ** 20)}M is smaller than the image's disk.raw (${Math.ceil(have / 2 ** 20)}M)`);
  runTool("cp", ["--sparse=always", diskRaw, out], "coreutils");
  if (sizeBytes === have) return;
  truncateSync(out, sizeBytes);
  runTool("sfdisk", ["--quiet", "--relocate", "gpt-bak-std", out], "fdisk");
  execFileSync("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", "-N", String(EPHEMERAL_PARTITION), out], { input: ", +\n", stdio: ["pipe", "ignore", "pipe"] });
}
