// The upgrade sequence: receive and verify the bundle, write the inactive
// slot, point GRUB at it once, then reboot into it on trial. Each phase is a
// stage of the upgrader (src/machined/upgrade/upgrade.ts), its steps handed
// to the caller's stream as they come. With --stage it ends before the reboot.
import type { UpgradeStep } from "../machine.js";
import type { UpgradeStages } from "../upgrade/upgrade.js";
import { type Phase, phase, task } from "./runner.js";

/** Runs a stage, reporting its steps; its result is the stage's. */
async function drain<R>(steps: AsyncGenerator<UpgradeStep, R>, report: (s: UpgradeStep) => void): Promise<R> {
  for (;;) {
    const next = await steps.next();
    if (next.done) return next.value;
    report(next.value);
  }
}

export function upgradeSequence(s: UpgradeStages, report: (s: UpgradeStep) => void): Phase[] {
  return [
    phase("receive", task("receiveBundle", (ctx) => drain(s.receive(ctx.signal), report))),
    phase("verify", task("verifyBundle", (ctx) => drain(s.verify(ctx.label), report))),
    phase("write", task("writeInactiveSlot", () => drain(s.write(), report))),
    phase("bootloader", task("tryOnce", () => drain(s.bootloader(), report))),
    phase("reboot", task("rebootIntoTrial", () => drain(s.reboot(), report))),
  ];
}
