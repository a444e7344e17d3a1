// Host programs the qemu provisioner runs (sfdisk, mkfs.vfat, mtools…): a
// missing one names the Debian package to install, a failing one its stderr.
import { execFileSync } from "node:child_process";

/** Runs `tool` quietly; throws naming `pkg` when it is not installed, or with its stderr when it fails. */
export function runTool(tool: string, args: string[], pkg: string): void {
  try {
    execFileSync(tool, args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${tool} is not installed: apt-get install ${pkg}`);
    throw new Error(`${tool} ${args.join(" ")} failed: ${String((err as { stderr?: Buffer }).stderr ?? "").trim()}`, { cause: err });
  }
}
