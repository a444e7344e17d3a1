// An NTP server for the vm tier: Debian's chronyd in the foreground on the
// host's 127.0.0.1:123 (which QEMU's user-mode network shows the guest as
// 10.0.2.2), serving its local clock at stratum 10 to anyone. It runs with
// -x, so it never touches this host's clock, and with its own config, pid
// file and drift file in a scratch directory; no command port.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHRONYD = "/usr/sbin/chronyd";

/** Why the NTP server cannot run here, or false. */
export function ntpServerPrereqs(): string | false {
  if (spawnSync(CHRONYD, ["-v"]).status !== 0) return `needs ${CHRONYD} (hack/setup.sh installs chrony)`;
  const busy = spawnSync("ss", ["-Hulnp", "sport = :123"], { encoding: "utf8" }).stdout?.trim();
  if (busy) return `UDP port 123 is taken on this host (${busy.split("\n")[0]}): stop that NTP server first`;
  return false;
}

export interface NtpServer {
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

/** The chrony.conf for a server on 127.0.0.1 whose files live in `dir`. */
function chronyConf(dir: string): string {
  return [
    "bindaddress 127.0.0.1",
    "port 123",
    "cmdport 0",
    "allow all",
    "local stratum 10",
    `driftfile ${join(dir, "drift")}`,
    `pidfile ${join(dir, "chronyd.pid")}`,
    "user root",
    "",
  ].join("\n");
}

/** Starts chronyd and resolves once it listens on 127.0.0.1:123. */
export async function startNtpServer(): Promise<NtpServer> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-chrony-"));
  writeFileSync(join(dir, "chrony.conf"), chronyConf(dir));
  const out = openSync(join(dir, "chronyd.log"), "w");
  const child: ChildProcess = spawn(CHRONYD, ["-4", "-d", "-x", "-f", join(dir, "chrony.conf")], { stdio: ["ignore", out, out] });
  const log = () => readFileSync(join(dir, "chronyd.log"), "utf8");
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const end = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
    if (spawnSync("ss", ["-Huln", "sport = :123"], { encoding: "utf8" }).stdout?.includes("127.0.0.1:123")) return { dir, log, stop };
    if (child.exitCode !== null || Date.now() > end) {
      const why = log();
      await stop();
      throw new Error(`chronyd did not start listening on 127.0.0.1:123: ${why || `exit ${child.exitCode}`}`);
    }
  }
}
