// A fake /sys under a temp root: network links (with or without a device
// behind them) and the DMI product UUID, for the identity code.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FakeLink {
  name: string;
  mac: string;
  ifindex: number;
  /** A device behind it (a NIC); false for lo, veths, bridges. */
  device: boolean;
}

/** Writes /sys/class/net/<link>/{address,ifindex,device} under `root`. */
export function fakeLinks(root: string, links: FakeLink[]): void {
  for (const l of links) {
    const dir = join(root, "sys/class/net", l.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "address"), `${l.mac}\n`);
    writeFileSync(join(dir, "ifindex"), `${l.ifindex}\n`);
    if (l.device) mkdirSync(join(dir, "device"));
  }
}

/** Writes /sys/class/dmi/id/product_uuid under `root`. */
export function fakeProductUuid(root: string, uuid: string): void {
  mkdirSync(join(root, "sys/class/dmi/id"), { recursive: true });
  writeFileSync(join(root, "sys/class/dmi/id/product_uuid"), `${uuid}\n`);
}

/** lo and a veth (the sandbox): no link with a device. */
export const sandboxLinks: FakeLink[] = [
  { name: "lo", mac: "00:00:00:00:00:00", ifindex: 1, device: false },
  { name: "eth0", mac: "9e:11:22:33:44:55", ifindex: 7, device: false },
];

/** lo, a bridge, and two NICs whose names sort the other way from their ifindex (a VM). */
export const vmLinks: FakeLink[] = [
  { name: "lo", mac: "00:00:00:00:00:00", ifindex: 1, device: false },
  { name: "cni0", mac: "aa:bb:cc:dd:ee:ff", ifindex: 2, device: false },
  { name: "eth1", mac: "52:54:00:ab:cd:ef", ifindex: 4, device: true },
  { name: "ens3", mac: "52:54:00:12:34:56", ifindex: 3, device: true },
];
