// The persisted machine config on STATE: load at boot, save atomically.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../config/schema.js";
import { parseConfig } from "../config/parse.js";
import { writeFileAtomic } from "./atomic-write.js";

export type StoredConfig =
  | { t: "none" }
  | { t: "ok"; config: MachineConfig; yaml: string; warnings: string[] }
  | { t: "invalid"; errors: string[]; warnings: string[] };

export interface ConfigStore {
  readonly path: string;
  load(): StoredConfig;
  save(yaml: string): void;
}

/** A store for `config.yaml` under the STATE directory. */
export function createConfigStore(stateDir: string): ConfigStore {
  const path = join(stateDir, "config.yaml");
  return {
    path,
    load: () => loadConfig(path),
    save: (yaml) => {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, yaml, 0o600);
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
