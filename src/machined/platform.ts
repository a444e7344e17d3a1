// Which platform machined runs on, and what that allows it to touch.
import type { PlatformName } from "../machinery/platform.js";

/** The platform named by the environment (stage 1 sets KILN_PLATFORM), else metal. */
export function detectPlatform(env: NodeJS.ProcessEnv = process.env): PlatformName {
  return env.KILN_PLATFORM === "sandbox" ? "sandbox" : "metal";
}

// Sysctls that belong to a namespace machined owns in the sandbox (net, UTS,
// IPC); any other would change the host's kernel, so the sandbox skips them.
const namespaced = [/^net\./, /^kernel\.(hostname|domainname)$/, /^kernel\.(shm|msg|sem)/, /^fs\.mqueue\./];

/** Whether a sysctl may be written on this platform. */
export function sysctlAllowed(platform: PlatformName, key: string): boolean {
  return platform !== "sandbox" || namespaced.some((re) => re.test(key));
}

/** Whether kernel modules may be loaded on this platform (never into the sandbox's host kernel). */
export function modulesAllowed(platform: PlatformName): boolean {
  return platform !== "sandbox";
}
