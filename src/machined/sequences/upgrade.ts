// The upgrade sequence: receive and verify the bundle, write the inactive
// slot, point GRUB at it once, then reboot into it on trial (the upgrader's
// steps, src/machined/upgrade/upgrade.ts, streamed to the caller as they go).
// With --stage it ends before the reboot.
import type { UpgradeOptions, UpgradeStep } from "../machine.js";
import type { Upgrader } from "../upgrade/upgrade.js";
import { type Phase, phase, task } from "./runner.js";

/** One task: the upgrader's work, each step handed to `report`; its result is the reboot into the trial. */
export function upgradeSequence(upgrader: Pick<Upgrader, "upgrade">, req: UpgradeOptions, report: (s: UpgradeStep) => void): Phase[] {
  return [
    phase(
      "upgrade",
      task("writeInactiveSlot", async (ctx) => {
        const steps = upgrader.upgrade(req, ctx.signal, ctx.label);
        for (;;) {
          const next = await steps.next();
          if (next.done) return next.value;
          report(next.value);
        }
      }),
    ),
  ];
}
