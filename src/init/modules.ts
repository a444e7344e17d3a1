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
  const opened = openModules(mods);
  try {
    return loadOpened(sys, opened);
  } finally {
    closeModules(opened);
  }
}

/** A module file opened ahead of its load (so its file may be deleted meanwhile), or why it would not open. */
export interface OpenedModule {
  name: string;
  params: string;
  fd?: number;
  error?: string;
}

/** Opens every file now; loadOpened loads them, closeModules closes them. */
export function openModules(mods: ModuleLoad[]): OpenedModule[] {
  return mods.map((m) => {
    const name = moduleName(m.file);
    try {
      return { name, params: m.params ?? "", fd: openSync(m.file, "r") };
    } catch (err) {
      return { name, params: "", error: (err as Error).message };
    }
  });
}

/** loadModules for opened files, in order; leaves the descriptors open. */
export function loadOpened(sys: Sys, mods: OpenedModule[]): ModuleResult[] {
  return mods.map((m) => {
    if (m.fd === undefined) return { name: m.name, outcome: "failed", error: m.error ?? "not opened" };
    try {
      sys.finitModule(m.fd, m.params, 0);
      return { name: m.name, outcome: "loaded" };
    } catch (err) {
      return failed(m.name, err);
    }
  });
}

/** Closes what openModules opened. */
export function closeModules(mods: OpenedModule[]): void {
  for (const m of mods) if (m.fd !== undefined) closeSync(m.fd);
}

/** A failed load's result; EEXIST (already loaded) counts as present. */
function failed(name: string, err: unknown): ModuleResult {
  if (err instanceof SysError && err.code === "EEXIST") return { name, outcome: "present" };
  return { name, outcome: "failed", error: (err as Error).message };
}

/** One console line: how many of `what` loaded, and each failure with why. */
export function summarizeModules(what: string, results: ModuleResult[]): string {
  const loaded = results.filter((r) => r.outcome !== "failed").length;
  const failed = results.filter((r) => r.outcome === "failed");
  const why = failed.map((r) => `${r.name}: ${r.error}`).join("; ");
  return `${what}: ${loaded}/${results.length} loaded${failed.length ? `; failed: ${why}` : ""}`;
}
