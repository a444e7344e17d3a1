// The running kiln version: the image's /usr/lib/kiln/VERSION (written by
// `kilnctl image build --version`), else what the build stamped, else "dev".
import { readFileSync } from "node:fs";
import type { VersionInfo } from "./machine.js";
import { imagePaths } from "../machinery/paths.js";
import type { PlatformName } from "../machinery/platform.js";

declare const KILN_VERSION: string | undefined;

function imageVersion(): string | undefined {
  try {
    return readFileSync(imagePaths.version, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** kiln's release tag. */
export const kilnVersion: string = imageVersion() ?? (typeof KILN_VERSION === "string" ? KILN_VERSION : "dev");

export function version(platform: PlatformName, kernel: string, maintenance: boolean): VersionInfo {
  return { tag: kilnVersion, nodeVersion: process.version, arch: process.arch, platform, kernel, maintenance };
}
