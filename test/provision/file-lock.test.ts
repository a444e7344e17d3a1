// The flock(1)-held lock: one holder at a time, released after the work,
// after a throw, and when its holder dies.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { withFileLock } from "../../src/provision/sandbox/file-lock.js";

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-lock-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "lock");
};

t.test("runs one holder at a time", async (t) => {
  const lock = scratch();
  let inside = 0;
  let most = 0;
  const work = async (i: number) => {
    inside++;
    most = Math.max(most, inside);
    await new Promise((r) => setTimeout(r, 5));
    inside--;
    return i;
  };
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => withFileLock(lock, () => work(i))));
  t.same(results, [0, 1, 2, 3, 4, 5, 6, 7]);
  t.equal(most, 1, "never two inside");
});

t.test("releases the lock when the work throws", async (t) => {
  const lock = scratch();
  await t.rejects(withFileLock(lock, () => Promise.reject(new Error("boom"))), /boom/);
  t.equal(await withFileLock(lock, () => "again", { timeoutMs: 1000 }), "again");
});

t.test("times out naming the lock while another process holds it, and gets it once that process is killed", async (t) => {
  const lock = scratch();
  const holder = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures/hold-lock.ts"), lock], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => holder.kill("SIGKILL"));
  await new Promise((r) => holder.stdout.once("data", r));
  await t.rejects(withFileLock(lock, () => 1, { timeoutMs: 300 }), new RegExp(`locking ${lock}: still held by another process after 300 ms`));
  holder.kill("SIGKILL");
  t.equal(await withFileLock(lock, () => "mine", { timeoutMs: 5000 }), "mine", "a dead holder leaves no stale lock");
});
