// An exclusive lock on a file across processes, held by `flock(1)` (Node has
// no flock(2)): `flock FILE cat` takes the lock, then copies our stdin to its
// stdout, so the line we wrote coming back means "locked". Closing stdin ends
// cat and releases the lock; so does our death, so a crash never leaves a
// stale lock behind.
import { spawn } from "node:child_process";

export interface LockOptions {
  /** How long to wait for the lock. Default 10 s. */
  timeoutMs?: number;
}

/** flock's exit code when the lock stayed busy until the timeout. */
const busyCode = 75;

/** Runs `fn` holding an exclusive flock on `path` (created when missing). */
export async function withFileLock<T>(path: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const release = await lockFile(path, opts.timeoutMs ?? 10_000);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Takes the lock; resolves with the function that releases it. */
async function lockFile(path: string, timeoutMs: number): Promise<() => Promise<void>> {
  const secs = String(Math.max(timeoutMs, 1) / 1000);
  const args = ["--exclusive", "--timeout", secs, "--conflict-exit-code", String(busyCode), path, "cat"];
  const holder = spawn("flock", args, { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<string>((resolve) => {
    let err = "";
    holder.stderr.on("data", (d: Buffer) => (err += d.toString()));
    holder.on("error", (e) => resolve(`running flock: ${e.message}`));
    holder.on("close", (code, signal) => {
      if (code === busyCode) resolve(`still held by another process after ${timeoutMs} ms`);
      else resolve(err.trim() || `flock exited with ${signal ?? `code ${code}`}`);
    });
  });
  holder.stdin.on("error", () => {});
  holder.stdin.write("locked\n");
  const locked = new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
  const failure = await Promise.race([locked.then(() => undefined), exited]);
  if (failure !== undefined) throw new Error(`locking ${path}: ${failure}`);
  return async () => {
    holder.stdin.end();
    await exited;
  };
}
