// The install sequence: write kiln to machine.install.disk, then reboot into
// it (kexec when the new kernel could be staged). Started by the first
// ApplyConfiguration in maintenance mode; at boot the same phase ends the
// boot sequence instead (sequences/boot.ts).
import type { RebootRequest } from "./reboot-request.js";
import { type Phase, phase, task } from "./runner.js";

/** One phase, one task: the install, whose result is the reboot into the disk (none when it failed). */
export function installSequence(run: () => Promise<RebootRequest | undefined>): Phase[] {
  return [phase("install", task("installToDisk", run))];
}
