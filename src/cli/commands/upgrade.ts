// `kilnctl upgrade --image PATH|URL [--stage] [--reboot-mode M] [--force]
// [--wait] [--health-timeout D] [--wait-timeout D]`: install a kiln bundle in
// the machine's other boot slot and reboot into it on trial; with --wait,
// until the machine has committed the slot or rolled back. One machine at a
// time. Steps go to stderr, the result to stdout.
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { Command, Option } from "commander";
import { RebootMode, type UpgradeStatus, type Version } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { CliError, usageError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, onlyMessage } from "../node-messages.js";
import { renderOne } from "../output.js";
import { createSession, type MachineSession, withMachine } from "../session.js";
import { createStepPrinter, type StepPrinter } from "../step-progress.js";
import type { Column } from "../table.js";
import { resolveImage, type UpgradeImage } from "../upgrade-image.js";
import { type UpgradeInit, type UpgradeOutcome, runUpgradeStream } from "../upgrade-stream.js";
import { uploadBundle } from "../upgrade-upload.js";
import { pollVersion, type UpgradeTarget, waitForUpgrade } from "../upgrade-wait.js";

interface UpgradeFlags {
  image: string;
  stage?: boolean;
  rebootMode: "default" | "powercycle";
  force?: boolean;
  wait?: boolean;
  healthTimeout: string;
  waitTimeout?: string;
}

/** The flags checked and parsed. */
export interface UpgradePlan {
  stage: boolean;
  force: boolean;
  rebootMode: RebootMode;
  healthTimeoutMs: number;
  wait: boolean;
  waitTimeoutMs: number;
}

/** The JSON/YAML shape of `upgrade`. */
export interface UpgradeRecord {
  node: string;
  fromVersion: string;
  toVersion: string;
  fromSlot: string;
  toSlot: string;
  /** "staged", "pending" (rebooting into the new slot), or with --wait "committed" or "rolled-back". */
  state: string;
  reason: string;
}

const columns: Column<UpgradeRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "FROM", value: (r) => slotted(r.fromVersion, r.fromSlot) },
  { header: "TO", value: (r) => slotted(r.toVersion, r.toSlot) },
  { header: "STATE", value: (r) => r.state },
  { header: "REASON", value: (r) => r.reason, optional: true },
];

/** "0.2.0 (B)". */
function slotted(version: string, slot: string): string {
  return `${version || "?"}${slot ? ` (${slot})` : ""}`;
}

/** Default of --wait-timeout. */
const defaultWaitTimeout = "20m";

/** The flags as a plan; usage errors for combinations that make no sense. */
export function parseUpgradeFlags(o: UpgradeFlags): UpgradePlan {
  if (o.wait && o.stage) {
    throw usageError("--wait", "does not go with --stage: a staged slot boots only at the next reboot (kilnctl reboot, then kilnctl version shows the result)");
  }
  if (o.waitTimeout !== undefined && !o.wait) throw usageError("--wait-timeout", "applies only with --wait");
  return {
    stage: o.stage === true,
    force: o.force === true,
    rebootMode: o.rebootMode === "powercycle" ? RebootMode.POWERCYCLE : RebootMode.DEFAULT,
    healthTimeoutMs: parseDurationFlag("--health-timeout", o.healthTimeout),
    wait: o.wait === true,
    waitTimeoutMs: parseDurationFlag("--wait-timeout", o.waitTimeout ?? defaultWaitTimeout),
  };
}

/** `upgrade`: returns once the machine reboots into the new slot (or has staged it), or with --wait once it decided. */
export function createUpgradeCommand(deps: CliDeps): Command {
  const cmd = new Command("upgrade")
    .description("install a kiln upgrade bundle in the other boot slot and reboot into it; the machine keeps it only if it comes up healthy (admin only)")
    .requiredOption("--image <path|url>", "the bundle (kiln-upgrade.tar): a local file, uploaded, or an http(s) URL the machine fetches")
    .option("--stage", "write the slot only; it boots at the next reboot")
    .addOption(new Option("--reboot-mode <mode>", "default (kexec when possible) or powercycle").choices(["default", "powercycle"]).default("default"))
    .option("--force", "accept a version that is not newer than the running one")
    .option("--wait", "after the reboot, wait until the machine commits the new slot (exit 0) or rolls back (exit 6)")
    .option("--health-timeout <duration>", "how long the new slot has to become healthy before the machine rolls back", "5m")
    .option("--wait-timeout <duration>", `with --wait: how long to wait for the result (default ${defaultWaitTimeout})`);
  return addGlobalOptions(cmd, { connect: true }).action(async (o: UpgradeFlags, c: Command) => {
    const plan = parseUpgradeFlags(o);
    const image = await resolveImage(o.image);
    let started: Started | undefined;
    await withMachine(c, deps, "upgrading", async (m) => {
      started = await startUpgrade(m, plan, image);
      if (!plan.wait) m.print(renderOne(m.format, started.record, columns));
    });
    if (plan.wait && started) await awaitResult(c, deps, plan, started);
  });
}

/** What the machine said before rebooting. */
interface Started {
  record: UpgradeRecord;
  target: UpgradeTarget;
}

/** Uploads the bundle (a file) and runs Upgrade to the reboot; the record of what was started. */
async function startUpgrade(m: MachineSession, plan: UpgradePlan, image: UpgradeImage): Promise<Started> {
  if (m.nodes.length > 1) {
    throw usageError("--nodes", `upgrade takes one machine at a time, got ${m.nodes.length} (${m.nodes.join(", ")}): run it once per node, each with --wait`);
  }
  const before = onlyMessage((await m.client.version({}, m.call)).messages);
  if (plan.wait && plan.waitTimeoutMs <= plan.healthTimeoutMs) {
    m.warn("--wait-timeout is not longer than --health-timeout: kilnctl may stop waiting before the machine decides");
  }
  const steps = createStepPrinter(m.deps.io.stderr);
  try {
    const source = await sourceOf(m, image, steps);
    const req: UpgradeInit = { source, force: plan.force, stage: plan.stage, rebootMode: plan.rebootMode, healthTimeout: durationFromMs(plan.healthTimeoutMs) };
    const outcome = await runUpgradeStream(m, req, steps);
    return { record: startedRecord(before, outcome), target: targetOf(before, outcome.status) };
  } finally {
    steps.end();
  }
}

/** Upgrade's source: the URL, or the id of the upload of the file. */
async function sourceOf(m: MachineSession, image: UpgradeImage, steps: StepPrinter): Promise<UpgradeInit["source"]> {
  if (image.t === "url") return { case: "url", value: image.url };
  return { case: "uploadId", value: await uploadBundle(m, image.path, image.size, steps) };
}

/** The record after the stream: the machine's, filled in from the Version before it when the machine left fields out. */
function startedRecord(before: Version, o: UpgradeOutcome): UpgradeRecord {
  const s = o.status;
  const state = s?.state || (o.lastPhase === "staged" ? "staged" : "pending");
  return {
    node: nodeOf(before),
    fromVersion: s?.fromVersion || before.tag,
    toVersion: s?.toVersion ?? "",
    fromSlot: s?.fromSlot || before.slot,
    toSlot: s?.toSlot || otherSlot(before),
    state,
    reason: s?.reason ?? "",
  };
}

/** The slot not running, from the Version before the upgrade; "" without slots. */
function otherSlot(v: Version): string {
  return v.slots.find((x) => !x.active)?.name ?? "";
}

/** How to recognise this upgrade's record: its slot and version, and not the record the machine had before. */
function targetOf(before: Version, s: UpgradeStatus | undefined): UpgradeTarget {
  const previous = before.upgrade?.time ? timestampDate(before.upgrade.time) : undefined;
  return { toSlot: s?.toSlot || otherSlot(before), toVersion: s?.toVersion ?? "", previous };
}

/** --wait: polls until the machine decided; prints the result, exit 6 when it rolled back. */
async function awaitResult(c: Command, deps: CliDeps, plan: UpgradePlan, started: Started): Promise<void> {
  const s = createSession(c, deps);
  const steps = createStepPrinter(deps.io.stderr);
  const say = (message: string) => steps.show({ phase: "health", message, done: 0, total: 0 });
  const { version, status } = await waitForUpgrade(() => pollVersion(c, deps), started.target, plan.waitTimeoutMs, say);
  say(`${status.state}: the machine runs slot ${version.slot || "?"} (kiln ${version.tag})`);
  const record = { ...finalRecord(status), node: nodeOf(version) || started.record.node };
  s.print(renderOne(s.format, record, columns));
  if (status.state === "rolled-back") throw rolledBack(version, status);
}

/** The record of a committed or rolled-back upgrade. */
function finalRecord(s: UpgradeStatus): UpgradeRecord {
  const { fromVersion, toVersion, fromSlot, toSlot, state, reason } = s;
  return { node: "", fromVersion, toVersion, fromSlot, toSlot, state, reason };
}

/** Exit 6: `upgrade rolled back: the machine is on slot A (kiln 0.1.0) again: <reason>`. */
function rolledBack(v: Version, s: UpgradeStatus): CliError {
  const where = `the machine is on slot ${v.slot || s.fromSlot} (kiln ${v.tag || s.fromVersion}) again`;
  return new CliError("upgrade rolled back", `${where}${s.reason ? `: ${s.reason}` : ""}`, ExitCode.rolledBack);
}
