// The machine's identity: 32 hex digits made once and kept on STATE.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write.js";

/** Reads STATE/machine-id, creating it on first boot. */
export function loadMachineId(stateDir: string): string {
  const path = join(stateDir, "machine-id");
  if (existsSync(path)) {
    const id = readFileSync(path, "utf8").trim();
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  }
  const id = randomBytes(16).toString("hex");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${id}\n`, 0o644);
  return id;
}
