// At boot: find the config (acquire.ts), keep it on STATE when it came from
// elsewhere, and apply it; or, with none, enter maintenance mode. A config
// that installs kiln to a disk (install/triggers.ts) is not applied here:
// the machine installs and reboots into the disk, or, refused, waits in
// maintenance mode saying why.
import type { Current } from "../apply-config.js";
import type { ConfigStore } from "../config-store.js";
import type { EventBus } from "../events.js";
import type { BootInstall } from "../install/triggers.js";
import { type AcquireReport, acquireConfig } from "./acquire.js";
import { type ConfigSource, reason } from "./source.js";

export interface BootConfigDeps extends AcquireReport {
  sources: ConfigSource[];
  /** Where ApplyConfiguration saves too: a later boot finds the config there first. */
  store: Pick<ConfigStore, "save">;
  events: Pick<EventBus, "publish">;
  applyLive(next: Current, prev: undefined): Promise<string[]>;
  /** Names the machine and writes its /etc files with no config. */
  enterMaintenance(): void;
  /** A machine that can install itself (booted without its disk): what the config's machine.install means. */
  install?(config: Current["config"], yaml: string): Promise<BootInstall>;
}

/** What boot does next: nothing more, or the install the config asks for (boot's last phase runs it). */
export type BootNext = { install?: Extract<BootInstall, { t: "planned" }>["run"] };

/** Configures the machine from the first source with a config, else leaves it in maintenance mode. */
export async function bootConfig(d: BootConfigDeps, signal?: AbortSignal): Promise<BootNext> {
  const got = await acquireConfig(d.sources, d, signal);
  if (got.t !== "found") {
    d.enterMaintenance();
    const why = got.t === "invalid" ? `the config from ${got.source} is invalid` : "no config yet";
    d.events.publish({ t: "machine", stage: "maintenance", message: `${why}: waiting for ApplyConfiguration` });
    return {};
  }
  const install = d.install ? await d.install(got.config, got.yaml) : { t: "none" as const };
  if (install.t !== "none") return installInstead(d, got.source, install);
  const unsaved = got.source === "state" ? [] : save(d, got.yaml);
  const warnings = await d.applyLive({ config: got.config, yaml: got.yaml }, undefined);
  d.configEvent(true, `loaded ${got.origin}`, [], [...got.warnings, ...unsaved, ...warnings], got.source);
  const from = got.source === "state" ? "STATE" : `${got.source} (${got.origin})`;
  d.events.publish({ t: "machine", stage: "running", message: `configured from ${from}` });
  return {};
}

/** The config installs kiln (or is refused for it): not applied; the machine waits in maintenance mode meanwhile. */
function installInstead(d: BootConfigDeps, source: string, install: Exclude<BootInstall, { t: "none" }>): BootNext {
  d.enterMaintenance();
  if (install.t === "planned") {
    d.events.publish({ t: "machine", stage: "booting", message: `the config from ${source} asks to ${install.message}` });
    return { install: install.run };
  }
  d.log(`config: ${source}: not applied: ${install.error}`);
  d.configEvent(false, "not applied: the install it asks for cannot go ahead", [install.error], [], source);
  d.events.publish({ t: "machine", stage: "maintenance", message: `${install.error}; waiting for ApplyConfiguration` });
  return {};
}

/** Saves on STATE as ApplyConfiguration does; a failure is a warning (the config still applies). */
function save(d: BootConfigDeps, yaml: string): string[] {
  try {
    d.store.save(yaml);
    return [];
  } catch (err) {
    const w = `not saved on STATE, the next boot will look again: ${reason(err)}`;
    d.log(`config: ${w}`);
    return [w];
  }
}
