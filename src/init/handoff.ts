// Stage 1 on metal becomes machined in the same process: it runs /sbin/init's
// loader in place rather than exec it (a second node start is ~1 s under
// TCG). What it started and machined must wait for travels on the process
// object, under a symbol only these two functions name.
import type { ModuleResult } from "./modules.js";

const key = Symbol.for("kiln.stage1.bootModules");

/** Stage 1: the boot set, still loading when machined's bundle starts. */
export function handOverBootModules(loading: Promise<ModuleResult[]>): void {
  (process as unknown as Record<symbol, unknown>)[key] = loading;
}

/** machined: the boot set stage 1 left loading; undefined when no stage 1 ran in this process (the sandbox, a test). */
export function bootModulesFromStage1(): Promise<ModuleResult[]> | undefined {
  const loading = (process as unknown as Record<symbol, unknown>)[key];
  return loading instanceof Promise ? (loading as Promise<ModuleResult[]>) : undefined;
}
