// When a machine installs itself: the config it finds at boot, or the first
// one applied in maintenance mode, names machine.install.disk. The plan is
// made at once (a refusal is an answer: the config is not applied, and the
// message says what to change); the writing runs in the background, and the
// machine then reboots into the disk by kexec, once the boot sequence is over.
import type { MachineConfig } from "../../config/schema.js";
import { ApiError, Code } from "../../grpc/errors.js";
import type { EventBus } from "../events.js";
import type { KexecPrepared } from "../kexec.js";
import type { ApplyMode } from "../machine.js";
import type { Installer, InstallPlan } from "./install.js";

/** What boot does with a config: none of the installer's business, refused, or an install under way. */
export type BootInstall = { t: "none" } | { t: "refused"; error: string } | { t: "started"; message: string };

/** The installer, and what the triggers tell and ask of the runtime. */
export interface TriggerDeps {
  installer: Installer;
  events: Pick<EventBus, "publish">;
  log(line: string): void;
  configEvent(accepted: boolean, message: string, errors: string[], warnings: string[], source?: string): void;
  /** The sequence running now (the reboot waits for "boot" to end). */
  busy(): string | undefined;
  /** Reboots into the staged kernel, or through firmware when none could be staged. */
  reboot(kexec: KexecPrepared | undefined): void;
}

/** The two moments an install may start. */
export interface InstallTriggers {
  /** At boot, with the config found. */
  atBoot(config: MachineConfig, yaml: string): Promise<BootInstall>;
  /** ApplyConfiguration in maintenance mode: the reply's details when it starts an install, undefined when it installs nothing; ApiError when refused. */
  onApply(config: MachineConfig, yaml: string, req: { mode: ApplyMode; dryRun: boolean }): Promise<string | undefined>;
}

type Active = Exclude<InstallPlan, { t: "none" }>;

/** The triggers over one installer; one install at a time. */
export function createInstallTriggers(d: TriggerDeps): InstallTriggers {
  let running: string | undefined;
  const plan = async (config: MachineConfig): Promise<InstallPlan | { t: "refused"; error: string }> => {
    try {
      return await d.installer.plan(config);
    } catch (err) {
      return { t: "refused", error: (err as Error).message };
    }
  };
  const start = (p: Active, yaml: string, source: string): string => {
    running = p.disk.device;
    void runInBackground(d, p, yaml, source).finally(() => {
      running = undefined;
    });
    return describe(p);
  };
  return {
    atBoot: async (config, yaml) => {
      const p = await plan(config);
      if (p.t === "none" || p.t === "refused") return p;
      return { t: "started", message: start(p, yaml, "boot") };
    },
    onApply: async (config, yaml, req) => {
      if (!config.machine.install?.disk) return undefined;
      if (running) throw new ApiError(Code.FAILED_PRECONDITION, `kiln is being installed to ${running}; the machine reboots into it when done`);
      const p = await plan(config);
      if (p.t === "none") return undefined;
      if (p.t === "refused") {
        d.configEvent(false, "rejected: the install cannot go ahead; nothing was changed", [p.error], []);
        throw new ApiError(Code.INVALID_ARGUMENT, p.error);
      }
      if (req.mode === "no-reboot" || req.mode === "staged") {
        throw new ApiError(Code.FAILED_PRECONDITION, `machine.install.disk installs kiln to ${p.disk.device} and reboots into it, which --mode ${req.mode} does not allow: apply with --mode auto or --mode reboot`);
      }
      if (req.dryRun) return `dry run: would ${describe(p)}; nothing was changed`;
      d.configEvent(true, `accepted for the install to ${p.disk.device}`, [], []);
      return start(p, yaml, "api");
    },
  };
}

/** What a plan does, in words. */
function describe(p: Active): string {
  return p.t === "boot" ? `boot kiln, already installed on ${p.disk.device}, by kexec` : `install kiln to ${p.disk.device}, then reboot into it`;
}

/** Runs the install; reboots into the disk, or says why not and leaves the machine in maintenance mode. */
async function runInBackground(d: TriggerDeps, p: Active, yaml: string, source: string): Promise<void> {
  let kexec: KexecPrepared;
  try {
    kexec = await d.installer.run(p, yaml);
  } catch (err) {
    const why = (err as Error).message;
    d.log(`install: failed: ${why}`);
    d.configEvent(false, "the install failed; the config was not applied", [why], [], source);
    d.events.publish({ t: "machine", stage: "maintenance", message: `install to ${p.disk.device} failed: ${why}; waiting for ApplyConfiguration` });
    return;
  }
  if (!kexec.ok) d.log(`install: no kexec (${kexec.why}): rebooting through firmware; make the disk the firmware's first boot device, or remove the install media`);
  while (d.busy() === "boot") await new Promise((r) => setTimeout(r, 100));
  d.reboot(kexec.ok ? kexec : undefined);
}
