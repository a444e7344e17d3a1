// One boot's network, wired from the host with iproute2 (the image has no ip
// binary; the host does): a veth pair whose host end `kiln-N` holds .1 of the
// machine's /30 and whose other end is created inside the sandbox's fresh
// network namespace as eth0 with .2, lo up, default route via .1. It runs
// before machined starts (see run-sandbox.ts), so PID 1 boots with its
// network in place, as on a machine whose NIC is there at power-on.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { sleep } from "./sleep.js";
import type { Lease } from "./leases.js";

/** The interface name inside the sandbox. */
export const sandboxLink = "eth0";

/** `ip -batch` lines run on the host: the pair, its host end's alias, address and state. */
export function hostCommands(lease: Lease, netnsPid: number): string[] {
  const cidr = `${lease.hostAddress}/${lease.prefixLength}`;
  return [
    `link add ${lease.link} type veth peer name ${sandboxLink} netns ${netnsPid}`,
    `link set dev ${lease.link} alias kiln-sandbox:${lease.name}`,
    `addr add ${cidr} dev ${lease.link}`,
    `link set dev ${lease.link} up`,
  ];
}

/** `ip -batch` lines run inside the sandbox's network namespace. */
export function sandboxCommands(lease: Lease): string[] {
  return [
    "link set dev lo up",
    `addr add ${lease.address}/${lease.prefixLength} dev ${sandboxLink}`,
    `link set dev ${sandboxLink} up`,
    `route add default via ${lease.hostAddress} dev ${sandboxLink}`,
  ];
}

/** Wires the network namespace of `netnsPid` to the host for `lease`. */
export async function setUpNetwork(netnsPid: number, lease: Lease): Promise<void> {
  await clearOldLink(lease.link);
  await ipBatch(["ip"], hostCommands(lease, netnsPid), "on the host");
  await ipBatch(["nsenter", "-t", String(netnsPid), "-n", "ip"], sandboxCommands(lease), `in the namespace of pid ${netnsPid}`);
}

/**
 * The previous boot's kiln-N goes when the kernel tears its namespace down,
 * which happens asynchronously after PID 1 died: wait for it, then delete
 * it (the slot is ours by lease, so the interface is too).
 */
async function clearOldLink(link: string, waitMs = 3000): Promise<void> {
  for (const end = Date.now() + waitMs; Date.now() < end; await sleep(20)) {
    if (!existsSync(`/sys/class/net/${link}`)) return;
  }
  await ipBatch(["ip"], [`link delete dev ${link}`], "on the host");
}

/** Runs `ip -batch -` (after `prefix`) with `lines` on stdin; throws with ip's message. */
function ipBatch(prefix: string[], lines: string[], where: string): Promise<void> {
  const [cmd, ...args] = [...prefix, "-batch", "-"];
  return new Promise((resolve, reject) => {
    const child = execFile(cmd!, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      reject(new Error(`ip ${where} failed: ${stderr.trim() || err.message}\n  ${lines.join("\n  ")}`, { cause: err }));
    });
    child.stdin?.on("error", () => {});
    child.stdin?.end(`${lines.join("\n")}\n`);
  });
}
