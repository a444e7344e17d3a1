// The machine's identity: 32 hex digits kept on STATE; where STATE is a tmpfs
// (no disk), derived from the hardware so it survives reboots. Also written
// to /etc/machine-id. The default hostname comes with it: the first link's
// MAC when there is one, else the id's first digits.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import { firstLinkMac, productUuid } from "./hardware-ids.js";

/** Who the machine is: its id, and the hostname it has when neither the config nor DHCP names one. */
export interface Identity {
  machineId: string;
  defaultHostname: string;
}

/** kiln-<the first physical link's MAC, 12 hex digits>, or kiln-<first 6 of the machine id> without one (the sandbox's veths). */
export function identityOf(machineId: string, mac?: string): Identity {
  return { machineId, defaultHostname: `kiln-${mac ?? machineId.slice(0, 6)}` };
}

/**
 * Reads STATE/machine-id, else derives an id (DMI product UUID, else a hash
 * of the first link's MAC, else random) and keeps it there; writes it to
 * /etc/machine-id. `root` is the machine's root ("/"; tests pass a temp dir).
 */
export function loadIdentity(stateDir: string, root = "/"): Identity {
  const mac = firstLinkMac(root);
  const stored = storedId(stateDir);
  const id = stored ?? derivedId(root, mac);
  if (!stored) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(stateDir, "machine-id"), `${id}\n`, 0o644);
  }
  writeFileAtomic(join(root, "etc/machine-id"), `${id}\n`, 0o444);
  return identityOf(id, mac);
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
