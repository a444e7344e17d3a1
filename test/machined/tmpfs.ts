// A tiny real tmpfs for tests about full disks: mounted in a temp directory,
// unmounted and removed at teardown. Root only (see test/init/needs-root.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "tap";

/** Mounts a tmpfs of `size` (e.g. "16k") and returns its directory. */
export function tinyTmpfs(t: Test, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  t.teardown(() => {
    execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
