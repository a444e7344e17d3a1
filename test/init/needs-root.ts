// Tests that need root and namespaces: skipped with a reason locally when
// not root, failed on CI (a missing prerequisite never passes silently there).
import type { Test } from "tap";

/** True when the test may go on; otherwise it has been skipped or failed. */
export function needsRoot(t: Test): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === "true") t.fail("needs root (unshare, mount)");
  else t.plan(0, "needs root (unshare, mount)"); // reported as a skip
  return false;
}
