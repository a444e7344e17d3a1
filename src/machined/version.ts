// The running kiln version; the build stamps KILN_VERSION from package.json.
import type { VersionInfo } from "./machine.js";
import type { PlatformName } from "./service.js";

declare const KILN_VERSION: string | undefined;

/** kiln's release tag: stamped at build time, else "dev". */
export const kilnVersion: string = typeof KILN_VERSION === "string" ? KILN_VERSION : "dev";

export function version(platform: PlatformName, kernel: string, maintenance: boolean): VersionInfo {
  return { tag: kilnVersion, nodeVersion: process.version, arch: process.arch, platform, kernel, maintenance };
}
