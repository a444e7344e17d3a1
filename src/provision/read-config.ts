// The machine config a provisioner boots a machine with: read and validated
// on the host first, so a bad file is refused before anything starts.
import { readFileSync } from "node:fs";
import { parseConfig } from "../config/parse.js";
import type { MachineConfig } from "../config/schema.js";

/** Reads and validates the machine config at `path`; throws listing every problem. */
export function readMachineConfig(path: string): { text: string; parsed: MachineConfig } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`reading the machine config ${path}`, { cause: err });
  }
  const parsed = parseConfig(text);
  if ("errors" in parsed) throw new Error(`the machine config ${path} is invalid:\n  ${parsed.errors.join("\n  ")}`);
  return { text, parsed: parsed.config };
}
