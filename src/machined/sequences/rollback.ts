// The rollback sequence: the other slot becomes GRUB's default, then the
// machine reboots into it (kexec in the default mode).
import type { RebootRequest } from "./reboot-request.js";
import { type Phase, phase, task } from "./runner.js";

export function rollbackSequence(commitOtherSlot: () => Promise<RebootRequest>): Phase[] {
  return [phase("bootloader", task("commitOtherSlot", commitOtherSlot))];
}
