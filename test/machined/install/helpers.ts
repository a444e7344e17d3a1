// A fake machine's block devices for the installer's tests: sysfs as the
// kernel lays it out (class/block links into devices/, partitions inside
// their disk's directory, size in 512-byte sectors) and /dev with regular
// files standing in for the devices.
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Roots } from "../../../src/machined/install/probe.js";

/** A sysfs and /dev under `dir`. */
export function fakeBlockTree(dir: string): Roots & { addDisk(name: string, bytes: number, opts?: { ro?: boolean }): string; addPartition(disk: string, n: number, label: string, bytes: number): string } {
  const sys = join(dir, "sys");
  const dev = join(dir, "dev");
  mkdirSync(join(sys, "class/block"), { recursive: true });
  mkdirSync(join(sys, "devices/virtual/block"), { recursive: true });
  mkdirSync(dev, { recursive: true });
  const addDisk = (name: string, bytes: number, opts: { ro?: boolean } = {}) => {
    const at = join(sys, "devices/virtual/block", name);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, "size"), `${Math.floor(bytes / 512)}\n`);
    writeFileSync(join(at, "ro"), opts.ro ? "1\n" : "0\n");
    writeFileSync(join(at, "uevent"), `DEVNAME=${name}\nDEVTYPE=disk\n`);
    symlinkSync(`../../devices/virtual/block/${name}`, join(sys, "class/block", name));
    const file = join(dev, name);
    writeFileSync(file, "");
    truncateSync(file, bytes);
    return file;
  };
  const addPartition = (disk: string, n: number, label: string, bytes: number) => {
    const name = /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
    const at = join(sys, "devices/virtual/block", disk, name);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, "partition"), `${n}\n`);
    writeFileSync(join(at, "size"), `${Math.floor(bytes / 512)}\n`);
    writeFileSync(join(at, "uevent"), `DEVNAME=${name}\nDEVTYPE=partition\nPARTN=${n}\nPARTNAME=${label}\n`);
    symlinkSync(`../../devices/virtual/block/${disk}/${name}`, join(sys, "class/block", name));
    const file = join(dev, name);
    writeFileSync(file, "");
    truncateSync(file, bytes);
    return file;
  };
  return { sys, dev, addDisk, addPartition };
}

/** Runs a host tool quietly; throws with its stderr. */
export function host(tool: string, args: string[], input?: string): string {
  return execFileSync(tool, args, { encoding: "utf8", stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) });
}
