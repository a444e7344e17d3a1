// Whole-number flags such as --tail and --since-id.
import { usageError } from "./errors.js";

/** A non-negative integer flag value, or a usage error naming the flag. */
export function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw usageError(flag, `expected a whole number such as 10, got "${text}"`);
  }
  return Number(text);
}
