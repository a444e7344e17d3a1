// oom_score_adj is inherited at fork, so a child is born with its score the
// same way it is born in its cgroup: set our own, spawn, restore ours.
import { readFileSync, writeFileSync } from "node:fs";

/** Runs `fn` with the file's oom_score_adj set to `value`, then restores it. */
export function withOomScoreAdj<T>(file: string, value: number | undefined, fn: () => T): T {
  if (value === undefined) return fn();
  if (!Number.isInteger(value) || value < -1000 || value > 1000) {
    throw new TypeError(`Expected the \`oomScoreAdj\` option to be an integer in [-1000, 1000], got \`${value}\``);
  }
  const saved = readFileSync(file, "utf8").trim();
  if (!lowered(file, value)) return fn();
  try {
    return fn();
  } finally {
    write(file, saved);
  }
}

const warned = new Set<number>();

/**
 * Sets the score; false when the kernel refuses a lower one. Lowering needs
 * CAP_SYS_RESOURCE, which some hosts (containers, restricted VMs) drop from
 * the bounding set: the service then runs with machined's score, said once.
 */
function lowered(file: string, value: number): boolean {
  try {
    writeFileSync(file, String(value));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw new Error(`setting ${file} to ${value}`, { cause: err });
    if (!warned.has(value)) process.stderr.write(`oom_score_adj ${value} refused (${code}: no CAP_SYS_RESOURCE?); running with the inherited score\n`);
    warned.add(value);
    return false;
  }
}

/** Writes the score, keeping the cause on failure. */
function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    throw new Error(`setting ${file} to ${value}`, { cause: err });
  }
}
