// `upgrade --wait`: after the reboot, poll Version until the machine's upgrade
// record says this upgrade was committed or rolled back. The machine is down
// for part of it: a poll that cannot connect or runs past its short deadline
// is a sighting of a rebooting machine, not a failure. Each poll opens its
// own connection, so a machine back from a reboot is seen at the next poll
// rather than after grpc-js's reconnect backoff.
import { setTimeout as sleep } from "node:timers/promises";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import type { UpgradeStatus, Version } from "../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "./deps.js";
import { formatDuration } from "./duration.js";
import { CliError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import { withMachine } from "./session.js";

/** How often to poll and each poll's deadline; tests shorten them. */
export const pollTiming = { intervalMs: 2000, callMs: 5000 };

/** What one poll saw: the machine's version, or why it did not answer. */
export type Sighting = { t: "up"; version: Version } | { t: "down"; reason: string };

/** How to tell this upgrade's record from an older one. */
export interface UpgradeTarget {
  /** The slot written and the version in it; "" when the machine did not say. */
  toSlot: string;
  toVersion: string;
  /**
   * When the record the machine had before the upgrade last changed; a
   * record with that time is the old one. (Any other was written since: the
   * machine only rewrites it. Comparing for inequality, not order, keeps a
   * clock that steps back over the reboot from hiding the result.)
   */
  previous: Date | undefined;
}

/** The end of the wait: the machine's version and its record, committed or rolled back. */
export interface WaitResult {
  version: Version;
  status: UpgradeStatus;
}

const finalStates = ["committed", "rolled-back"];

/** Polls until this upgrade is committed or rolled back; exit 5 after `timeoutMs`. `say` reports changes. */
export async function waitForUpgrade(poll: () => Promise<Sighting>, target: UpgradeTarget, timeoutMs: number, say: (message: string) => void): Promise<WaitResult> {
  const deadline = performance.now() + timeoutMs;
  say(`waiting for the machine on slot ${target.toSlot || "?"} to become healthy`);
  for (;;) {
    const seen = await poll();
    const status = seen.t === "up" ? thisUpgrade(seen.version, target) : undefined;
    if (seen.t === "up" && status && finalStates.includes(status.state)) return { version: seen.version, status };
    say(describe(seen, status));
    if (performance.now() + pollTiming.intervalMs > deadline) throw timedOut(timeoutMs, seen.t === "down" ? `the machine was not answering (${seen.reason})` : describe(seen, status));
    await sleep(pollTiming.intervalMs);
  }
}

/** The machine's record if it is this upgrade's. */
function thisUpgrade(v: Version, target: UpgradeTarget): UpgradeStatus | undefined {
  const s = v.upgrade;
  if (!s) return undefined;
  if (target.toSlot && s.toSlot !== target.toSlot) return undefined;
  if (target.toVersion && s.toVersion !== target.toVersion) return undefined;
  if (target.previous && s.time && timestampDate(s.time).getTime() === target.previous.getTime()) return undefined;
  return s;
}

/** Where the machine is, in a few words. */
function describe(seen: Sighting, status: UpgradeStatus | undefined): string {
  if (seen.t === "down") return "the machine is not answering (rebooting)";
  const where = `the machine runs slot ${seen.version.slot || "?"} (kiln ${seen.version.tag})`;
  if (!status) return `${where}; the upgrade is not recorded yet`;
  return `${where}; upgrade ${status.state}${status.reason ? `: ${status.reason}` : ""}`;
}

/** Exit 5, saying where the machine was last seen. */
function timedOut(timeoutMs: number, where: string): CliError {
  const hint = "kilnctl version shows where it is; the machine rolls back by itself if the new slot is not healthy within --health-timeout";
  return new CliError("waiting for the upgrade", `no result within ${formatDuration(timeoutMs)}: ${where} (${hint})`, ExitCode.timeout);
}

/** One Version poll over a fresh connection; not connecting and deadlines are sightings of a machine that is down. */
export async function pollVersion(cmd: Command, deps: CliDeps): Promise<Sighting> {
  let seen: Sighting = { t: "down", reason: "no answer" };
  try {
    await withMachine(cmd, deps, "waiting for the upgrade", async (m) => {
      const [v] = (await m.client.version({}, { timeoutMs: pollTiming.callMs })).messages;
      // Through apid (-n), a node that is down answers with metadata.error.
      if (v && !v.metadata?.error) seen = { t: "up", version: v };
      else if (v?.metadata?.error) seen = { t: "down", reason: v.metadata.error };
    });
  } catch (err) {
    if (!(err instanceof CliError && (err.exitCode === ExitCode.unavailable || err.exitCode === ExitCode.timeout))) throw err;
    seen = { t: "down", reason: `${err.what}: ${err.reason}` };
  }
  return seen;
}
