// The host programs disk.raw is made with, each found where its Debian
// package puts it, or an error naming the package to install. GRUB comes
// from grub-common (grub-mkimage) plus the module directories of
// grub-pc-bin (BIOS) and grub-efi-amd64-bin (UEFI); none of these install a
// bootloader on the host (grub-pc and grub-efi-amd64 would, and are not needed).
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface DiskTools {
  sfdisk: string;
  mkfsExt4: string;
  debugfs: string;
  mkfsFat: string;
  mcopy: string;
  grubMkimage: string;
  /** GRUB's i386-pc directory (boot.img, modules). */
  grubPc: string;
  /** GRUB's x86_64-efi directory. */
  grubEfi: string;
}

export interface ToolSearch {
  /** Directories to look for programs in (default: $PATH, then /usr/sbin and /sbin, which a user's PATH may lack). */
  path?: string[];
  /** Where GRUB's platform directories are (default /usr/lib/grub). */
  grubLib?: string;
}

/** Every tool, or one error listing all that are missing and the packages that hold them. */
export function diskTools(o: ToolSearch = {}): DiskTools {
  const path = o.path ?? [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/sbin"];
  const missing: string[] = [];
  const program = (name: string, pkg: string) => {
    const p = findProgram(name, path);
    if (!p) missing.push(`${name} (${pkg})`);
    return p ?? "";
  };
  const dir = (arch: string, pkg: string, files: string[]) => {
    const d = join(o.grubLib ?? "/usr/lib/grub", arch);
    if (!files.every((f) => existsSync(join(d, f)))) missing.push(`${d} (${pkg})`);
    return d;
  };
  const tools: DiskTools = {
    sfdisk: program("sfdisk", "fdisk"),
    mkfsExt4: program("mkfs.ext4", "e2fsprogs"),
    debugfs: program("debugfs", "e2fsprogs"),
    mkfsFat: program("mkfs.fat", "dosfstools"),
    mcopy: program("mcopy", "mtools"),
    grubMkimage: program("grub-mkimage", "grub-common"),
    grubPc: dir("i386-pc", "grub-pc-bin", ["kernel.img", "boot.img", "biosdisk.mod"]),
    grubEfi: dir("x86_64-efi", "grub-efi-amd64-bin", ["kernel.img", "efi_gop.mod"]),
  };
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => /\((.+)\)$/.exec(m)?.[1]))].join(" ");
    throw new Error(`building disk.raw needs ${missing.join(", ")}: apt-get install --no-install-recommends ${pkgs}`);
  }
  return tools;
}

/** The first executable `name` in `dirs`, or undefined. */
export function findProgram(name: string, dirs: string[]): string | undefined {
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
