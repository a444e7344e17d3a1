// Loading kernel modules with finit_module: stage 1 loads the boot set,
// machined machine.kernel.modules. Which files, in which order, comes from
// modules.dep (src/machinery/modules-dep.ts).
import { closeSync, openSync } from "node:fs";
import { moduleName } from "../machinery/modules-dep.js";
import { type Sys, SysError } from "../sys/sys.js";

/** One module to load: its file and parameters ("a=1 b=2"). */
export interface ModuleLoad {
  file: string;
  params?: string;
}

/** What loading a list did: loaded, already there, or failed (with why). */
export interface ModuleResult {
  name: string;
  outcome: "loaded" | "present" | "failed";
  error?: string;
}

/**
 * Loads modules in order with finit_module. A module already loaded (EEXIST)
 * counts as present; a failure is reported and the rest still load (a later
 * step that needs it says what is missing).
 */
export function loadModules(sys: Sys, mods: ModuleLoad[]): ModuleResult[] {
  return mods.map((m) => {
    const name = moduleName(m.file);
    let fd = -1;
    try {
      fd = openSync(m.file, "r");
      sys.finitModule(fd, m.params ?? "", 0);
      return { name, outcome: "loaded" };
    } catch (err) {
      if (err instanceof SysError && err.code === "EEXIST") return { name, outcome: "present" };
      return { name, outcome: "failed", error: (err as Error).message };
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  });
}
