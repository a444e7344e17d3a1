// A throwaway network namespace for one test file: created with `ip netns add`
// under a unique name, deleted at teardown. Nothing here touches the host's links.
import { execFileSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { Test } from "tap";
import type { Sys } from "../../src/sys/sys.js";
import { CLONE } from "../../src/sys/sys.js";

/** True when the test may go on: root and `ip` present; else skipped, or failed on CI. */
export function needsNetns(t: Test): boolean {
  const missing = process.getuid?.() !== 0 ? "root" : hasIp() ? "" : "the ip command";
  if (!missing) return true;
  if (process.env.CI === "true") t.fail(`needs ${missing} (network namespaces)`);
  else t.plan(0, `needs ${missing} (network namespaces)`);
  return false;
}

/** Whether `ip` runs. */
function hasIp(): boolean {
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Creates namespace `name`, removed when `t` ends. */
export function createNetns(t: Test, name: string): void {
  execFileSync("ip", ["netns", "add", name]);
  t.teardown(() => execFileSync("ip", ["netns", "delete", name]));
}

/** Runs `ip -n name -j args…` and parses its JSON. */
export function ipJson(name: string, args: string[]): unknown {
  return JSON.parse(execFileSync("ip", ["-n", name, "-j", ...args], { encoding: "utf8" }) || "[]");
}

/** Runs `ip -n name args…` (inside the namespace only). */
export function ipIn(name: string, args: string[]): void {
  execFileSync("ip", ["-n", name, ...args]);
}

/**
 * Calls `fn` with this thread in namespace `name`, then moves back. Sockets
 * opened by `fn` stay in `name`; the rest of the process never leaves home.
 */
export function inNetns<T>(sys: Sys, name: string, fn: () => T): T {
  const home = openSync("/proc/thread-self/ns/net", "r");
  const target = openSync(`/run/netns/${name}`, "r");
  try {
    sys.setns(target, CLONE.NEWNET);
    try {
      return fn();
    } finally {
      sys.setns(home, CLONE.NEWNET);
    }
  } finally {
    closeSync(target);
    closeSync(home);
  }
}
