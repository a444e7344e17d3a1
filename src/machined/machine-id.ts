// The machine's identity: 32 hex digits kept on STATE; where STATE is a tmpfs
// (no disk), derived from the hardware so it survives reboots. Also written
// to /etc/machine-id, and the MAC it found remembered for the default hostname.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import { firstLinkMac, productUuid } from "./hardware-ids.js";

/** The first link's MAC found when each id was loaded (apply/hostname.ts names the machine after it). */
const macs = new Map<string, string>();

/**
 * Reads STATE/machine-id, else derives an id (DMI product UUID, else a hash
 * of the first link's MAC, else random) and keeps it there; writes it to
 * /etc/machine-id. `root` is the machine's root ("/"; tests pass a temp dir).
 */
export function loadMachineId(stateDir: string, root = "/"): string {
  const mac = firstLinkMac(root);
  const stored = storedId(stateDir);
  const id = stored ?? derivedId(root, mac);
  if (!stored) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(stateDir, "machine-id"), `${id}\n`, 0o644);
  }
  writeFileAtomic(join(root, "etc/machine-id"), `${id}\n`, 0o444);
  if (mac) macs.set(id, mac);
  return id;
}

/** The first physical link's MAC (12 hex digits) when `machineId` was loaded, if it had one. */
export function linkMacOf(machineId: string): string | undefined {
  return macs.get(machineId);
}

/** STATE/machine-id when it holds 32 lowercase hex digits. */
function storedId(stateDir: string): string | undefined {
  const path = join(stateDir, "machine-id");
  const id = existsSync(path) ? readFileSync(path, "utf8").trim() : "";
  return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

/** The same id at every boot of the same hardware where it can be, else a random one. */
function derivedId(root: string, mac: string | undefined): string {
  const uuid = productUuid(root);
  if (uuid) return uuid;
  if (mac) return createHash("sha256").update(`kiln machine-id ${mac}`).digest("hex").slice(0, 32);
  return randomBytes(16).toString("hex");
}
