// A real containerd for a test: its own root, state and socket in a temp
// directory (CRI off), stopped at teardown; and ctr against it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, type Teardown } from "./helpers.js";

/** Why containerd cannot be started here, if it cannot. */
export function cannotRun(): string | false {
  if (process.getuid?.() !== 0) return "needs root to run containerd";
  for (const bin of ["containerd", "ctr"]) {
    try {
      execFileSync("which", [bin]);
    } catch {
      return `${bin} is not installed`;
    }
  }
  return false;
}

/** A containerd of our own on a temp socket, stopped at teardown. */
export async function startContainerd(t: Teardown): Promise<{ socket: string; dir: string; proc: ChildProcess }> {
  const dir = tempDir(t, "kiln-ctrd-");
  const socket = join(dir, "c.sock");
  const config = `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${socket}"\n`;
  writeFileSync(join(dir, "config.toml"), config);
  const proc = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error("containerd did not create its socket within 5s");
  return { socket, dir, proc };
}

/** Stops a containerd we started and waits for it to exit. */
export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await exited;
}

/** Runs ctr against our containerd. */
export function ctr(socket: string, ...args: string[]): string {
  return execFileSync("ctr", ["-a", socket, ...args], { stdio: "pipe", encoding: "utf8" });
}

