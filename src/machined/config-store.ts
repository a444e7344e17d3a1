// The persisted machine config on STATE: load at boot, save atomically.
// Every save also refreshes config.good.yaml, the last known good copy, which
// boot falls back to when config.yaml cannot be read or no longer validates.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../config/schema.js";
import { parseConfig } from "../config/parse.js";
import { writeFilesAtomic } from "./atomic-write.js";

export type StoredConfig =
  | { t: "none" }
  | { t: "ok"; config: MachineConfig; yaml: string; warnings: string[] }
  | { t: "invalid"; errors: string[]; warnings: string[] };

export interface ConfigStore {
  readonly path: string;
  /** The last known good copy. */
  readonly goodPath: string;
  load(): StoredConfig;
  save(yaml: string): void;
}

/** A store for `config.yaml` under the STATE directory. */
export function createConfigStore(stateDir: string): ConfigStore {
  const path = join(stateDir, "config.yaml");
  const goodPath = join(stateDir, "config.good.yaml");
  return {
    path,
    goodPath,
    load: () => loadConfig(path),
    // Only validated configs are saved. Both copies are written and synced
    // before either is renamed, so a full STATE throws (`exhausted`) with both
    // old files untouched; each rename is atomic, so at any moment at least
    // one of the two files is whole and valid.
    save: (yaml) => {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      writeFilesAtomic([
        { path, data: yaml, mode: 0o600 },
        { path: goodPath, data: yaml, mode: 0o600 },
      ]);
    },
  };
}

/** Reads and validates the stored config. */
function loadConfig(path: string): StoredConfig {
  if (!existsSync(path)) return { t: "none" };
  const yaml = readFileSync(path, "utf8");
  const parsed = parseConfig(yaml);
  if ("errors" in parsed) return { t: "invalid", errors: parsed.errors, warnings: parsed.warnings };
  return { t: "ok", config: parsed.config, yaml, warnings: parsed.warnings };
}
