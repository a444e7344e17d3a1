// What the hardware says about who this machine is, read from sysfs under
// `root` ("/" in machined; tests pass a fake tree): the DMI product UUID and
// the MAC address of the first network link with a device behind it.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A file's trimmed text, or undefined when it cannot be read. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The DMI product UUID as 32 lowercase hex digits; undefined when absent, unreadable or a placeholder (all 0 or all f). */
export function productUuid(root = "/"): string | undefined {
  const hex = readText(join(root, "sys/class/dmi/id/product_uuid"))?.toLowerCase().replaceAll("-", "");
  if (!hex || !/^[0-9a-f]{32}$/.test(hex) || /^(0+|f+)$/.test(hex)) return undefined;
  return hex;
}

/** A link that has a device behind it (not lo, a veth, bridge or dummy) and a real Ethernet address. */
interface PhysicalLink {
  name: string;
  ifindex: number;
  mac: string;
}

/** The links under /sys/class/net with a device and a non-zero MAC, lowest ifindex first. */
export function physicalLinks(root = "/"): PhysicalLink[] {
  const dir = join(root, "sys/class/net");
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const links = names.flatMap((name) => {
    if (name === "lo" || !existsSync(join(dir, name, "device"))) return [];
    const mac = readText(join(dir, name, "address"))?.toLowerCase() ?? "";
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) || mac === "00:00:00:00:00:00") return [];
    const ifindex = Number.parseInt(readText(join(dir, name, "ifindex")) ?? "", 10);
    return [{ name, ifindex: Number.isNaN(ifindex) ? Number.MAX_SAFE_INTEGER : ifindex, mac }];
  });
  return links.sort((a, b) => a.ifindex - b.ifindex || a.name.localeCompare(b.name));
}

/** The first physical link's MAC as 12 hex digits (52:54:00:12:34:56 → 525400123456), or undefined. */
export function firstLinkMac(root = "/"): string | undefined {
  return physicalLinks(root)[0]?.mac.replaceAll(":", "");
}
