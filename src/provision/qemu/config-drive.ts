// A config drive for a VM: a small FAT image labelled KILN-CONFIG holding
// config.yaml, made with dosfstools and mtools (no mount, no root needed).
import { runTool } from "./host-tool.js";
import { rmSync } from "node:fs";

/** Writes `out`, a 2 MiB vfat image with `config` as /config.yaml. */
export function makeConfigDrive(config: string, out: string): void {
  rmSync(out, { force: true });
  runTool("mkfs.vfat", ["-C", "-n", "KILN-CONFIG", "--invariant", out, "2048"], "dosfstools");
  runTool("mcopy", ["-i", out, config, "::config.yaml"], "mtools");
}
