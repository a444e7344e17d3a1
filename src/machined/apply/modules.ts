// Kernel modules on metal: the runtime set the image names (bridges,
// netfilter: what containerd and kubelet need) at boot, and
// machine.kernel.modules from the config, each with its dependencies from the
// image's /usr/lib/modules/<release>/modules.dep.
import { release } from "node:os";
import { loadModules, type ModuleResult } from "../../init/modules.js";
import { type ModuleTable, readModuleTable, resolveModules } from "../../machinery/modules-dep.js";
import type { MachineConfig } from "../../config/schema.js";
import type { Sys } from "../../sys/sys.js";

/** The image's modules directory for the running kernel. */
export function modulesDir(root = "/"): string {
  return `${root.replace(/\/$/, "")}/usr/lib/modules/${release()}`;
}

/** Loads `names` (and what they need); one result per file, failures included. `dir` may be its tables, read once. */
export function loadByName(sys: Sys, dir: string | ModuleTable, names: string[], params: Record<string, string> = {}): ModuleResult[] {
  const out: ModuleResult[] = [];
  let table: ModuleTable;
  try {
    table = typeof dir === "string" ? readModuleTable(dir) : dir;
  } catch (err) {
    return names.map((name) => ({ name, outcome: "failed", error: (err as Error).message }));
  }
  for (const name of names) {
    let files: string[];
    try {
      files = resolveModules(table, [name]);
    } catch (err) {
      out.push({ name, outcome: "failed", error: (err as Error).message });
      continue;
    }
    const last = files.length - 1;
    out.push(...loadModules(sys, files.map((file, i) => (i === last && params[name] ? { file, params: params[name] } : { file }))));
  }
  return out;
}

/** machine.kernel.modules not loaded by `prev`: loads them; returns a warning per failure. */
export function applyKernelModules(sys: Sys, prev: MachineConfig | undefined, next: MachineConfig, dir = modulesDir()): string[] {
  const had = new Set((prev?.machine.kernel?.modules ?? []).map((m) => m.name));
  const wanted = (next.machine.kernel?.modules ?? []).filter((m) => !had.has(m.name));
  if (wanted.length === 0) return [];
  const params = Object.fromEntries(wanted.map((m) => [m.name, (m.parameters ?? []).join(" ")]));
  const results = loadByName(sys, dir, wanted.map((m) => m.name), params);
  return results.filter((r) => r.outcome === "failed").map((r) => `machine.kernel.modules: ${r.name}: ${r.error}`);
}

/**
 * At boot on metal: the image's runtime set, one module per event-loop turn
 * so the API keeps answering (finit_module verifies each module's signature,
 * which takes a while under emulation); logs one line, and each failure.
 */
export async function loadRuntimeModules(sys: Sys, names: string[], log: (line: string) => void, dir = modulesDir()): Promise<void> {
  const results: ModuleResult[] = [];
  let table: ModuleTable | string = dir;
  try {
    table = readModuleTable(dir);
  } catch {
    // each name reports it below
  }
  for (const name of names) {
    results.push(...loadByName(sys, table, [name]));
    await new Promise((r) => setImmediate(r));
  }
  const failed = results.filter((r) => r.outcome === "failed");
  log(`kernel modules: ${results.length - failed.length}/${results.length} of the runtime set loaded`);
  for (const f of failed) log(`kernel modules: ${f.name}: ${f.error}`);
}
