// A config drive for a VM: a small FAT image labelled KILN-CONFIG holding
// config.yaml, made with dosfstools and mtools (no mount, no root needed).
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";

/** Writes `out`, a 2 MiB vfat image with `config` as /config.yaml. */
export function makeConfigDrive(config: string, out: string): void {
  rmSync(out, { force: true });
  run("mkfs.vfat", ["-C", "-n", "KILN-CONFIG", "--invariant", out, "2048"], "dosfstools");
  run("mcopy", ["-i", out, config, "::config.yaml"], "mtools");
}

function run(tool: string, args: string[], pkg: string): void {
  try {
    execFileSync(tool, args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${tool} is not installed: apt-get install ${pkg}`);
    throw new Error(`${tool} ${args.join(" ")} failed: ${String((err as { stderr?: Buffer }).stderr ?? "").trim()}`, { cause: err });
  }
}
