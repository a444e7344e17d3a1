// The upgrade sequence: one phase per stage of the upgrader, each stage's
// steps reported as they come, the label renamed once the bundle is read,
// and the reboot into the trial handed to halt; with --stage, no reboot.
import t from "tap";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { UpgradeStep } from "../../../src/machined/machine.js";
import { type RebootRequest, rebootRequest } from "../../../src/machined/sequences/reboot-request.js";
import { createRunner } from "../../../src/machined/sequences/runner.js";
import { upgradeSequence } from "../../../src/machined/sequences/upgrade.js";
import type { UpgradeStages } from "../../../src/machined/upgrade/upgrade.js";

const step = (phase: UpgradeStep["phase"], message: string): UpgradeStep => ({ phase, message, done: 0, total: 0 });

/** Stages that each yield one step; verify renames the sequence; reboot returns `request`. */
function fakeStages(request: RebootRequest | undefined): UpgradeStages {
  return {
    async *receive() {
      yield step("fetch", "received");
    },
    async *verify(label) {
      label?.("upgrade to 0.2.0");
      yield step("verify", "checksums match");
    },
    async *write() {
      yield step("write", "slot B written");
    },
    async *bootloader() {
      yield step("bootloader", "GRUB boots B once");
    },
    async *reboot() {
      yield step(request ? "reboot" : "staged", request ? "rebooting" : "staged");
      return request;
    },
  };
}

t.test("runs the stages as phases, reports their steps in order, then reboots into the trial", async (t) => {
  const halted: RebootRequest[] = [];
  const runner = createRunner({ events: createEventBus(), log: () => {}, halt: async (r) => void halted.push(r) });
  const reported: string[] = [];
  const request = rebootRequest("reboot", "upgrade to 0.2.0: trial of slot B", { mode: "powercycle" });
  await runner.run("upgrade", upgradeSequence(fakeStages(request), (s) => void reported.push(`${s.phase}: ${s.message}`)));
  t.same(reported, ["fetch: received", "verify: checksums match", "write: slot B written", "bootloader: GRUB boots B once", "reboot: rebooting"]);
  await new Promise((r) => setTimeout(r, 10));
  t.same(halted, [request]);
  const run = runner.runs()[0]!;
  t.equal(run.label, "upgrade to 0.2.0");
  t.same(
    run.phases.map((p) => `${p.name}/${p.tasks.map((x) => x.name).join(",")}`),
    ["receive/receiveBundle", "verify/verifyBundle", "write/writeInactiveSlot", "bootloader/tryOnce", "reboot/rebootIntoTrial", "power/"],
  );
});

t.test("a staged upgrade ends without a reboot and frees the lock", async (t) => {
  const halted: RebootRequest[] = [];
  const runner = createRunner({ events: createEventBus(), log: () => {}, halt: async (r) => void halted.push(r) });
  await runner.run("upgrade", upgradeSequence(fakeStages(undefined), () => {}));
  await new Promise((r) => setTimeout(r, 10));
  t.same(halted, []);
  t.equal(runner.current(), undefined);
  t.equal(runner.runs()[0]?.result, "ok");
});
