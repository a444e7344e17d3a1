// grubenv on the ESP, read and written by machined: the ESP (GPT name EFI)
// is mounted for a moment and ESP:/grub/grubenv rewritten in place. In place,
// never by rename: GRUB's save_env writes into the blocks the file already
// has, so the file keeps its one 1024-byte cluster run and stays writable by
// GRUB. The variables are those of src/machinery/grub.ts.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { decodeGrubenv, encodeGrubenv, GRUBENV_SIZE } from "../../machinery/grub.js";
import { machinedPaths } from "../../machinery/paths.js";
import { MS, type Sys } from "../../sys/sys.js";
import { type Partition, RO_MOUNT, withMount } from "../disks.js";

export interface Grubenv {
  read(): Record<string, string>;
  /** Sets `vars` (others kept) and makes it durable. */
  update(vars: Record<string, string>): void;
}

export interface EspDeps {
  sys: Sys;
  partitions: Partition[];
  log(line: string): void;
  /** Where the ESP is mounted for a moment. */
  mountDir?: string;
}

/** grubenv on the disk's ESP. */
export function espGrubenv(d: EspDeps): Grubenv {
  const withEsp = <T>(write: boolean, fn: (file: string) => T): T => {
    const esp = d.partitions.find((p) => p.label === "EFI");
    if (!esp) throw new Error("the disk has no partition named EFI: its boot loader cannot be told which slot to boot");
    const mount = {
      device: esp.device,
      dir: d.mountDir ?? machinedPaths.espMount,
      fstype: "vfat",
      flags: write ? MS.NOSUID | MS.NODEV | MS.NOEXEC : RO_MOUNT,
      data: "fmask=0077,dmask=0077",
      // A write is flushed by a real unmount before the caller goes on (to a reboot, maybe).
      ...(write ? { umountFlags: 0 } : {}),
      log: (l: string) => d.log(`grubenv: ${l}`),
    };
    return withMount(d.sys, mount, (dir) => fn(join(dir, "grub/grubenv")));
  };
  const readVars = (file: string) => {
    const buf = Buffer.alloc(GRUBENV_SIZE);
    const fd = openSync(file, "r");
    try {
      readSync(fd, buf, 0, GRUBENV_SIZE, 0);
    } finally {
      closeSync(fd);
    }
    const got = decodeGrubenv(buf);
    if ("error" in got) throw new Error(`ESP:/grub/grubenv: ${got.error}`);
    return got.value;
  };
  return {
    read: () => withEsp(false, readVars),
    update: (vars) =>
      withEsp(true, (file) => {
        const next = encodeGrubenv({ ...readVars(file), ...vars });
        const fd = openSync(file, "r+");
        try {
          writeSync(fd, next, 0, next.length, 0);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        d.sys.sync();
        d.log(`grubenv: ${Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(" ")}`);
      }),
  };
}
