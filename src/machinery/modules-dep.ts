// Kernel modules: which files to load for a list of names, read from a
// modules directory's modules.dep (dependencies first) and modules.builtin.
// The builder uses it to pick the modules that go into the image; stage 1
// and machined to find the files they load (src/init/modules.ts).
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

export const moduleSuffix = /\.ko(\.xz|\.zst|\.gz)?$/;

/** A module's name from its file name or a depends= entry: no suffix, "-" as "_". */
export function moduleName(fileOrName: string): string {
  return basename(fileOrName).replace(moduleSuffix, "").replaceAll("-", "_");
}

/**
 * The module files (absolute paths) for `names` and everything they depend
 * on, per modulesDir/modules.dep, each once, dependencies before dependents:
 * the order to load them in. Names built into the kernel (modules.builtin)
 * need no file and are skipped; any other unknown name is an error.
 */
export function resolveModules(modules: string | ModuleTable, names: string[]): string[] {
  const { dir: modulesDir, deps, builtin } = typeof modules === "string" ? readModuleTable(modules) : modules;
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, chain: string[]) => {
    const mod = deps.get(name);
    if (state.get(name) === "done" || (!mod && builtin.has(name))) return;
    if (!mod) throw new Error(unknownModule(name, chain, modulesDir));
    if (state.get(name) === "visiting") throw new Error(`modules.dep has a cycle: ${[...chain, name].join(" -> ")}: regenerate it`);
    state.set(name, "visiting");
    for (const d of mod.deps) visit(moduleName(d), [...chain, name]);
    state.set(name, "done");
    order.push(join(modulesDir, mod.path));
  };
  for (const n of names) visit(moduleName(n), []);
  return order;
}

/** A modules directory's modules.dep and modules.builtin, read once for many resolveModules calls. */
export interface ModuleTable {
  dir: string;
  deps: Map<string, { path: string; deps: string[] }>;
  builtin: Set<string>;
}

/** Reads `modulesDir`'s tables (modules.dep is ~4,000 lines: machined loading the runtime set name by name read it once per name, ~2 s under TCG). */
export function readModuleTable(modulesDir: string): ModuleTable {
  return { dir: modulesDir, deps: readModulesDep(modulesDir), builtin: readBuiltin(modulesDir) };
}

/** The message for a module name modules.dep does not know. */
function unknownModule(name: string, chain: string[], modulesDir: string): string {
  const via = chain.length > 0 ? ` (needed by ${chain.join(" -> ")})` : "";
  return `unknown kernel module ${name}${via}: not in ${join(modulesDir, "modules.dep")} nor modules.builtin; check the name (modinfo) or drop it from the list`;
}

/** modules.dep as name -> { path, deps }. */
function readModulesDep(modulesDir: string): Map<string, { path: string; deps: string[] }> {
  const file = join(modulesDir, "modules.dep");
  if (!existsSync(file)) throw new Error(`${file} is missing: fetch the kernel with fetchKernel (which writes it) or run depmod`);
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    out.set(moduleName(path), { path, deps: line.slice(colon + 1).trim().split(/\s+/).filter(Boolean) });
  }
  return out;
}

/** The names in modules.builtin (empty when the file is absent). */
function readBuiltin(modulesDir: string): Set<string> {
  const file = join(modulesDir, "modules.builtin");
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, "utf8").split("\n").filter(Boolean).map(moduleName));
}
