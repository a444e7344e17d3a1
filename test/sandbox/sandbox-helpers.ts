// Drives real sandboxes for the sandbox tier: kilnctl from the build, and
// looks into the sandbox's PID namespace from the host.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
export const kilnctlBin = join(root, "bin/kilnctl.js");

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kilnctl with args; never throws. */
export function kilnctl(args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  const r = spawnSync(process.execPath, [kilnctlBin, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs kilnctl expecting success and parses its -o json output. */
export function kilnctlJson<T>(args: string[]): T {
  const r = kilnctl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kilnctl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Sandbox {
  name: string;
  /** apid, "HOST:PORT" on the sandbox's veth address. */
  endpoint: string;
  /** machined's socket on the host ("unix://…/machined.sock"): local access without apid. */
  localEndpoint: string;
  address: string;
  pid: number;
  stateDir: string;
  consoleLog: string;
}

/** Writes a config to a temp file and creates a sandbox with it (and `extraArgs` for cluster create). */
export function createSandbox(name: string, configYaml?: string, extraArgs: string[] = []): Sandbox {
  kilnctl(["cluster", "destroy", "--name", name]);
  const args = ["cluster", "create", "--provisioner", "sandbox", "--name", name, ...extraArgs];
  if (!configYaml) return kilnctlJson<Sandbox>(args);
  // The provisioner keeps its own copy of the config: the file goes once the sandbox is made.
  const dir = mkdtempSync(join(tmpdir(), "kiln-cfg-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, configYaml);
  try {
    return kilnctlJson<Sandbox>([...args, "--config", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function destroySandbox(name: string): Ran {
  return kilnctl(["cluster", "destroy", "--name", name]);
}

export interface ServiceRow {
  id: string;
  state: string;
  healthy: boolean | null;
  message: string;
  pid: number;
  restarts: number;
}

export function services(sb: Sandbox): ServiceRow[] {
  return kilnctlJson<ServiceRow[]>(["-e", sb.localEndpoint, "services"]);
}

/** Polls until fn returns a truthy value or the time runs out. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export interface HostProc {
  pid: number;
  ppid: number;
  state: string;
  cmdline: string;
}

/** Every host process in the sandbox's PID namespace. */
export function processesIn(sb: Sandbox): HostProc[] {
  const ns = readlinkSync(`/proc/${sb.pid}/ns/pid`);
  const out: HostProc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      out.push({ pid: Number(d), state: rest[0]!, ppid: Number(rest[1]), cmdline });
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

/** Zombie children of the sandbox's PID 1. */
export function zombiesOfInit(sb: Sandbox): HostProc[] {
  return processesIn(sb).filter((p) => p.ppid === sb.pid && p.state === "Z");
}

/** Runs a host command inside the sandbox's namespaces (nsenter). */
export function inSandbox(sb: Sandbox, nsFlags: string[], argv: string[]): Ran {
  // `env -i`: tap injects NODE_OPTIONS naming loaders that do not exist inside.
  const clean = ["-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"];
  const r = spawnSync("env", [...clean, "nsenter", "-t", String(sb.pid), ...nsFlags, "--", ...argv], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Whether the process still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The sandbox's console log (machined's stdout/stderr), for failure messages. */
export function consoleTail(sb: Sandbox, lines = 40): string {
  try {
    return readFileSync(sb.consoleLog, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no console log)";
  }
}

export { execFileSync };
