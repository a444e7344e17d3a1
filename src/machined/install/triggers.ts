// When a machine installs itself: the config it finds at boot, or the first
// one applied in maintenance mode, names machine.install.disk. The plan is
// made at once (a refusal is an answer: the config is not applied, and the
// message says what to change); the writing is a task of a sequence (the
// install sequence, or boot's last phase) whose result is the reboot into
// the disk.
import type { MachineConfig } from "../../config/schema.js";
import type { InstallStart } from "../apply-config.js";
import { invalid, refused } from "../errors.js";
import type { EventBus } from "../events.js";
import type { ApplyMode } from "../machine.js";
import { installSequence } from "../sequences/install.js";
import { type RebootRequest, rebootRequest } from "../sequences/reboot-request.js";
import type { Installer, InstallPlan } from "./install.js";

/** What boot does with a config: none of the installer's business, refused, or an install to run. */
export type BootInstall = { t: "none" } | { t: "refused"; error: string } | { t: "planned"; message: string; run(): Promise<RebootRequest | undefined> };

/** The installer, and what the triggers tell the machine. */
export interface TriggerDeps {
  installer: Installer;
  events: Pick<EventBus, "publish">;
  log(line: string): void;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[], source?: string): void;
}

/** The two moments an install may start. */
export interface InstallTriggers {
  /** At boot, with the config found. */
  atBoot(config: MachineConfig, yaml: string): Promise<BootInstall>;
  /** ApplyConfiguration in maintenance mode: the install to start, undefined when it installs nothing; throws when refused. */
  onApply(config: MachineConfig, yaml: string, req: { mode: ApplyMode; dryRun: boolean }): Promise<InstallStart | undefined>;
}

type Active = Exclude<InstallPlan, { t: "none" }>;

/** The triggers over one installer (one install at a time: the install runs under the machine's lock). */
export function createInstallTriggers(d: TriggerDeps): InstallTriggers {
  const plan = async (config: MachineConfig): Promise<InstallPlan | { t: "refused"; error: string }> => {
    try {
      return await d.installer.plan(config);
    } catch (err) {
      return { t: "refused", error: (err as Error).message };
    }
  };
  return {
    atBoot: async (config, yaml) => {
      const p = await plan(config);
      if (p.t === "none" || p.t === "refused") return p;
      return { t: "planned", message: describe(p), run: () => runInstall(d, p, yaml, "boot") };
    },
    onApply: async (config, yaml, req) => {
      if (!config.machine.install?.disk) return undefined;
      const p = await plan(config);
      if (p.t === "none") return undefined;
      if (p.t === "refused") {
        d.configEvent(false, "rejected: the install cannot go ahead; nothing was changed", [p.error], []);
        throw invalid(p.error);
      }
      if (req.mode === "no-reboot" || req.mode === "staged") {
        throw refused(`machine.install.disk installs kiln to ${p.disk.device} and reboots into it, which --mode ${req.mode} does not allow: apply with --mode auto or --mode reboot`);
      }
      const label = `install to ${p.disk.device}`;
      if (req.dryRun) return { details: `dry run: would ${describe(p)}; nothing was changed`, label };
      return { details: describe(p), label, phases: installSequence(() => runInstall(d, p, yaml, "api")) };
    },
  };
}

/** What a plan does, in words. */
function describe(p: Active): string {
  return p.t === "boot" ? `boot kiln, already installed on ${p.disk.device}, by kexec` : `install kiln to ${p.disk.device}, then reboot into it`;
}

/** Runs the install: the reboot into the disk; or says why not and leaves the machine in maintenance mode. */
async function runInstall(d: TriggerDeps, p: Active, yaml: string, source: string): Promise<RebootRequest | undefined> {
  // Said once the install holds the lock, so a refused request never reads as accepted.
  if (source === "api") d.configEvent(true, `accepted for the install to ${p.disk.device}`, [], []);
  try {
    const kexec = await d.installer.run(p, yaml);
    if (kexec.ok) return rebootRequest("reboot", `installed to ${p.disk.device}`, { kexec });
    d.log(`install: no kexec (${kexec.why}): rebooting through firmware; make the disk the firmware's first boot device, or remove the install media`);
    return rebootRequest("reboot", `installed to ${p.disk.device}`, { mode: "powercycle" });
  } catch (err) {
    const why = (err as Error).message;
    d.log(`install: failed: ${why}`);
    d.configEvent(false, "the install failed; the config was not applied", [why], [], source);
    d.events.publish({ t: "machine", stage: "maintenance", message: `install to ${p.disk.device} failed: ${why}; waiting for ApplyConfiguration` });
    return undefined;
  }
}
