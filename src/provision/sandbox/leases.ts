// Which sandbox holds which /30. One JSON file per host,
// /run/kiln/sandbox-net/leases.json, changed only under an flock of
// /run/kiln/sandbox-net/lock, so concurrent creates (any $KILN_STATE_DIR)
// never share a slot. A lease names the host program holding it (PID + start
// time): the host program takes it before the first boot, keeps it across
// reboots and gives it back when the machine stops. A lease whose holder is
// gone (a crash, kill -9) is stale: the next change drops it. A slot whose
// `kiln-N` interface still exists on the host is never handed out, whatever
// the file says. /run is a tmpfs, so leases end with the host's uptime, as
// the interfaces do.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type AddressRange, type SlotAddresses, slotAddresses } from "./addresses.js";
import { withFileLock } from "./file-lock.js";
import { isAlive, type ProcRef } from "./proc.js";

/** Where the lease file and its lock live on the host. */
export const defaultLeaseDir = "/run/kiln/sandbox-net";

/** A slot held by one machine's host program. */
export interface Lease extends SlotAddresses {
  name: string;
  stateDir: string;
  owner: ProcRef;
}

/** Who asks for a slot. */
export interface LeaseRequest {
  name: string;
  /** Identifies the machine across state roots. */
  stateDir: string;
  /** The host program that will hold the lease. */
  owner: ProcRef;
}

/** What leasing needs from the host; tests pass their own. */
export interface LeaseHost {
  dir: string;
  /** Whether a network interface of that name exists on the host. */
  linkExists(link: string): boolean;
  alive(ref: ProcRef): boolean;
  /** Host routes inside `range` that are not sandboxes' (each as "DST dev DEV"). */
  foreignRoutes(range: AddressRange): string[];
}

/** The real host: /sys/class/net, /proc and `ip route`. */
export function hostLeases(dir = defaultLeaseDir): LeaseHost {
  return { dir, linkExists: (link) => existsSync(`/sys/class/net/${link}`), alive: isAlive, foreignRoutes };
}

/** Takes a free slot for `req` (its previous one when free) and records it. */
export async function acquireLease(req: LeaseRequest, range: AddressRange, host: LeaseHost = hostLeases()): Promise<Lease> {
  const foreign = host.foreignRoutes(range);
  if (foreign.length > 0) {
    throw new Error(`the sandbox range ${range.cidr} is already routed on this host (${foreign.join("; ")}); set KILN_SANDBOX_CIDR to a free private range`);
  }
  mkdirSync(host.dir, { recursive: true, mode: 0o755 });
  return withFileLock(lockPath(host.dir), () => {
    const leases = readLeases(host.dir);
    const chosen = chooseSlot(leases, range, req, host);
    if ("error" in chosen) throw new Error(chosen.error);
    const lease: Lease = { ...chosen.value, name: req.name, stateDir: req.stateDir, owner: req.owner };
    writeLeases(host.dir, [...leases.filter((l) => keep(l, host) && l.stateDir !== req.stateDir), lease]);
    return lease;
  });
}

/**
 * Gives back the lease of machine `stateDir`: the one `owner` holds, or, with
 * no owner, one whose holder is gone. True when a lease was removed.
 */
export async function releaseLease(stateDir: string, owner?: ProcRef, host: LeaseHost = hostLeases()): Promise<boolean> {
  if (!existsSync(leasesPath(host.dir))) return false;
  return withFileLock(lockPath(host.dir), () => {
    const leases = readLeases(host.dir);
    const mine = (l: Lease) => l.stateDir === stateDir && (owner ? sameProc(l.owner, owner) : !host.alive(l.owner));
    const left = leases.filter((l) => keep(l, host) && !mine(l));
    writeLeases(host.dir, left);
    return leases.some(mine);
  });
}

/** Picks the slot for `req`: its previous one when free, else the lowest free one. */
export function chooseSlot(
  leases: Lease[],
  range: AddressRange,
  req: LeaseRequest,
  host: Pick<LeaseHost, "linkExists" | "alive">,
): { value: SlotAddresses } | { error: string } {
  const held = leases.filter((l) => l.stateDir !== req.stateDir && host.alive(l.owner));
  const networks = new Set(held.map((l) => l.network));
  const links = new Set(held.map((l) => l.link));
  const free = (s: SlotAddresses) => !networks.has(s.network) && !links.has(s.link) && !host.linkExists(s.link);
  const previous = leases.find((l) => l.stateDir === req.stateDir);
  if (previous && previous.slot < range.slots) {
    const again = slotAddresses(range, previous.slot);
    if (again.network === previous.network && free(again)) return { value: again };
  }
  for (let slot = 0; slot < range.slots; slot++) {
    const s = slotAddresses(range, slot);
    if (free(s)) return { value: s };
  }
  return { error: `no free /30 left in the sandbox range ${range.cidr} (${range.slots} slots, ${held.length} held); destroy a machine or set KILN_SANDBOX_CIDR to a larger range` };
}

/** The leases recorded in `dir` (none when there is no file yet). */
export function readLeases(dir = defaultLeaseDir): Lease[] {
  let text: string;
  try {
    text = readFileSync(leasesPath(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new Error(`reading ${leasesPath(dir)}`, { cause: err });
  }
  try {
    return (JSON.parse(text) as { leases: Lease[] }).leases;
  } catch (err) {
    throw new Error(`${leasesPath(dir)} is not valid JSON`, { cause: err });
  }
}

/** Writes the lease file atomically (temp file, fsync, rename). */
function writeLeases(dir: string, leases: Lease[]): void {
  const path = leasesPath(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeSync(fd, `${JSON.stringify({ leases: [...leases].sort((a, b) => a.slot - b.slot) }, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Whether a lease survives a rewrite: its holder still runs. */
function keep(l: Lease, host: Pick<LeaseHost, "alive">): boolean {
  return host.alive(l.owner);
}

/** Whether two references name the same process. */
function sameProc(a: ProcRef, b: ProcRef): boolean {
  return a.pid === b.pid && a.start === b.start;
}

/** The lease file in `dir`. */
export function leasesPath(dir: string): string {
  return join(dir, "leases.json");
}

/** The lock file in `dir`. */
function lockPath(dir: string): string {
  return join(dir, "lock");
}

/** Host IPv4 routes inside `range` on interfaces other than kiln-N. */
function foreignRoutes(range: AddressRange): string[] {
  const out = execFileSync("ip", ["-j", "-4", "route", "show", "root", range.cidr], { encoding: "utf8" });
  const routes = (out.trim() ? JSON.parse(out) : []) as { dst?: string; dev?: string }[];
  return routes.filter((r) => !/^kiln-\d+$/.test(r.dev ?? "")).map((r) => `${r.dst ?? "?"} dev ${r.dev ?? "?"}`);
}
