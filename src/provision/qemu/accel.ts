// KVM when it works, TCG otherwise. /dev/kvm can exist and still fail: nested
// virtualisation without MSR support kills QEMU once the guest starts ("failed
// to set MSR"), not when it opens the device. So KVM is tried by booting for
// real, and a QEMU that dies in its first seconds is started again under TCG.
// $KILN_QEMU_ACCEL (kvm or tcg) settles it without trying.
import { accessSync, constants } from "node:fs";

export type Accel = "kvm" | "tcg";

/** The accelerators to try, in order. */
export function accelCandidates(env: NodeJS.ProcessEnv = process.env, kvmDevice = "/dev/kvm"): Accel[] {
  const forced = env.KILN_QEMU_ACCEL;
  if (forced === "kvm" || forced === "tcg") return [forced];
  if (forced) throw new Error(`KILN_QEMU_ACCEL=${forced}: expected kvm or tcg`);
  try {
    accessSync(kvmDevice, constants.R_OK | constants.W_OK);
    return ["kvm", "tcg"];
  } catch {
    return ["tcg"];
  }
}

/** How long a QEMU must live before we trust its accelerator. */
export const accelProbeMs = 4000;
