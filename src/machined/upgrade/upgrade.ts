// Upgrade and rollback: the A/B dance, around the record on STATE.
//
//   upgrade   bundle → verify (checksums, version) → write the inactive slot
//             → record "pending" → grubenv kiln_try=<new> → reboot into it:
//             kexec straight into the new kernel (kiln_try is then cleared
//             first, so the firmware reboot after a panic is the old slot's),
//             or a full reboot through GRUB, which clears kiln_try itself.
//   --stage   the same without the reboot; record "staged"; the next reboot,
//             whatever asks for it, is the trial.
//   trial     the new slot boots with kiln.boot=trial: record "trial", and
//             the services that ran before must be back within the timeout:
//             then grubenv kiln_slot=<new> (committed); else the record keeps
//             why, and the machine reboots through GRUB to the old slot.
//   any boot on the old slot while the record is staged, pending or trial is
//             a rollback: "rolled-back", with why, in the record and events.
//   rollback  grubenv kiln_slot=<other>, record "rolled-back", reboot.
import semver from "semver";
import { invalid, refused } from "../errors.js";
import { type RebootRequest, rebootRequest } from "../sequences/reboot-request.js";
import { BundleError, type BundleInfo } from "../../machinery/upgrade-bundle.js";
import type { EventBus } from "../events.js";
import type { KexecPrepared, KexecTarget } from "../kexec.js";
import type { RebootMode, UpgradeOptions, UpgradeStatusInfo, UpgradeStep, UpgradeUploadChunk } from "../machine.js";
import type { Partition } from "../disks.js";
import type { ServiceStatus } from "../service.js";
import type { SlotInfo } from "../slots.js";
import type { Grubenv } from "./grubenv-file.js";
import { readRecord, statusOf, type UpgradeRecord, writeRecord } from "./record.js";
import { runTrial } from "./trial.js";
import type { Uploads } from "./uploads.js";

/** How long a trial waits for health unless the request says. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5 * 60_000;

export interface UpgraderDeps {
  log(line: string): void;
  events: Pick<EventBus, "publish">;
  stateDir: string;
  /** Uploads on EPHEMERAL; undefined when /var is not on a disk. */
  uploads: Uploads | undefined;
  partitions: Partition[];
  /** The boot slots (undefined: the machine did not boot from a disk). */
  slots: SlotInfo | undefined;
  runningVersion: string;
  services(): ServiceStatus[];
  grubenv: Grubenv;
  extract(tar: string, dir: string): Promise<BundleInfo>;
  writeSlot(device: string, label: string, bundle: BundleInfo): Promise<void>;
  prepareKexec(target?: KexecTarget): Promise<KexecPrepared>;
  /** Asks for a reboot through firmware (a failed trial: GRUB then boots the old slot). */
  requestReboot(why: string): void;
  /** For the trial's polling (tests shorten it). */
  trialPollMs?: number;
}

export interface Upgrader {
  upload(chunk: UpgradeUploadChunk): { uploadId: string; received: number };
  /** Throws when no upgrade can start here (no slots, a trial running, no room); the upgrade sequence checks before it takes the lock. */
  precheck(): void;
  /** The upgrade's stages (precheck first: throws when no upgrade can start); the upgrade sequence runs each as a phase. */
  stages(req: UpgradeOptions): UpgradeStages;
  /** All stages in order, its steps as it goes; ends with the reboot into the trial (none with --stage). */
  upgrade(req: UpgradeOptions, signal: AbortSignal, label?: (text: string) => void): AsyncGenerator<UpgradeStep, RebootRequest | undefined>;
  /** Checks a rollback can be done (throws when not); `run` makes the other slot the default and asks for the reboot. */
  planRollback(mode: RebootMode, force: boolean): { slot: string; version: string; run(): Promise<RebootRequest> };
  /** Reads the record at boot: starts a trial, or records a rollback. */
  atBoot(): void;
  /** The last record, for Version. */
  status(): UpgradeStatusInfo | undefined;
  /** Both slots' versions as they are now (a slot written this boot shows its new version). */
  slots(): SlotInfo | undefined;
  /** The kernel a default-mode reboot kexecs: a staged upgrade's trial, else the running slot. */
  rebootKexec(): Promise<KexecPrepared>;
}

/** An upgrade, stage by stage: receive the bundle, verify it, write the inactive slot, point GRUB at it once, reboot into it. */
export interface UpgradeStages {
  receive(signal: AbortSignal): AsyncGenerator<UpgradeStep, void>;
  verify(label?: (text: string) => void): AsyncGenerator<UpgradeStep, void>;
  write(): AsyncGenerator<UpgradeStep, void>;
  bootloader(): AsyncGenerator<UpgradeStep, void>;
  /** The reboot into the trial; with --stage, none. */
  reboot(): AsyncGenerator<UpgradeStep, RebootRequest | undefined>;
}

type Slot = "A" | "B";
const other = (s: Slot): Slot => (s === "A" ? "B" : "A");

export function createUpgrader(d: UpgraderDeps): Upgrader {
  let record = readRecord(d.stateDir, d.log);
  const versions = new Map((d.slots?.slots ?? []).map((s) => [s.name, s.version]));
  const save = (r: UpgradeRecord) => {
    record = writeRecord(d.stateDir, r);
    return record;
  };
  const event = (message: string) => {
    d.log(`upgrade: ${message}`);
    d.events.publish({ t: "machine", stage: "upgrade", message });
  };
  const runningSlot = (): Slot => {
    const s = d.slots?.slot;
    if (s !== "A" && s !== "B") throw refused("this machine runs from its boot media, not from a disk with boot slots: install it first (machine.install.disk)");
    return s;
  };
  const partitionOf = (slot: Slot) => {
    const p = d.partitions.find((x) => x.label === `BOOT-${slot}`);
    if (!p) throw refused(`the disk has no partition named BOOT-${slot}`);
    return p;
  };

  const precheck = (): { from: Slot; uploads: Uploads } => {
    const from = runningSlot();
    if (d.slots?.bootMode === "trial" && record?.state === "trial") throw refused(`slot ${from} is on trial; wait until it is committed or rolled back`);
    if (!d.uploads) throw refused("/var is not on a disk here: there is no room to receive a bundle");
    return { from, uploads: d.uploads };
  };

  /** The upgrade's stages over one shared state, in order; each yields its steps. */
  function stages(req: UpgradeOptions): UpgradeStages {
    const { from, uploads } = precheck();
    const to = other(from);
    const target = partitionOf(to);
    const st: { tar?: string; uploadId?: string; bundle?: BundleInfo; healthTimeoutMs: number; watched: UpgradeRecord["services"] } = { healthTimeoutMs: 0, watched: [] };
    const bundle = () => st.bundle as BundleInfo;
    return {
      async *receive(signal) {
        if ("url" in req.source) {
          yield step("fetch", `fetching ${req.source.url}`);
          const last = { done: 0, total: 0 };
          st.tar = await uploads.fetch(req.source.url, (done, total) => Object.assign(last, { done, total }), signal);
          st.uploadId = st.tar.replace(/^.*\//, "").replace(/\.tar$/, "");
          yield step("fetch", `fetched ${mib(last.done)}`, last.done, last.total);
        } else {
          st.uploadId = req.source.uploadId;
          st.tar = uploads.path(st.uploadId);
        }
      },
      async *verify(label) {
        yield step("verify", "checking the bundle's checksums and version");
        st.bundle = await verify(d, st.tar ?? "", uploads.scratch(st.uploadId ?? ""), req.force);
        label?.(`upgrade to ${st.bundle.version}`);
        yield step("verify", `kiln ${st.bundle.version} (kernel ${st.bundle.kernel}): checksums match`);
      },
      async *write() {
        const b = bundle();
        const total = b.files.initramfs.size + b.files.vmlinuz.size;
        yield step("write", `writing kiln ${b.version} to slot ${to} (${target.device})`, 0, total);
        await d.writeSlot(target.device, `BOOT-${to}`, b);
        versions.set(to, b.version);
        uploads.clear();
        yield step("write", `slot ${to} written and read back`, total, total);
      },
      async *bootloader() {
        st.watched = d.services().filter((s) => s.state === "Running").map((s) => ({ id: s.id, checked: s.healthy !== null }));
        st.healthTimeoutMs = req.healthTimeoutMs || DEFAULT_HEALTH_TIMEOUT_MS;
        const base = { from: { slot: from, version: d.runningVersion }, to: { slot: to, version: bundle().version }, services: st.watched, healthTimeoutMs: st.healthTimeoutMs, reason: "", time: "" };
        save({ ...base, state: req.stage ? "staged" : "pending" });
        d.grubenv.update({ kiln_try: to });
        yield step("bootloader", `GRUB boots slot ${to} once, on trial; slot ${from} stays the default until ${to} is healthy`);
      },
      async *reboot() {
        const version = bundle().version;
        if (req.stage) {
          event(`kiln ${version} staged in slot ${to}: the next reboot tries it`);
          yield step("staged", `staged: the next reboot boots slot ${to} on trial`, 0, 0, statusOf(record!));
          return undefined;
        }
        const kexec = req.rebootMode === "default" ? await stageTrial(to) : undefined;
        event(`rebooting into slot ${to} (kiln ${version}) on trial${kexec?.ok ? " by kexec" : ""}; ${st.watched.length} services must be healthy within ${Math.round(st.healthTimeoutMs / 1000)} s`);
        yield step("reboot", `rebooting into slot ${to}${kexec?.ok ? " by kexec" : kexec ? ` through firmware (${kexec.why})` : " through firmware"}`, 0, 0, statusOf(record!));
        const why = `upgrade to ${version}: trial of slot ${to}`;
        return kexec?.ok ? rebootRequest("reboot", why, { kexec }) : rebootRequest("reboot", why, { mode: "powercycle" });
      },
    };
  }

  /** The whole upgrade, its stages one after the other (the upgrade sequence runs them as its phases). */
  async function* upgrade(req: UpgradeOptions, signal: AbortSignal, label?: (text: string) => void): AsyncGenerator<UpgradeStep, RebootRequest | undefined> {
    const s = stages(req);
    yield* s.receive(signal);
    yield* s.verify(label);
    yield* s.write();
    yield* s.bootloader();
    return yield* s.reboot();
  }

  /** Stages the trial kernel; once staged, kiln_try is cleared, so a panic's firmware reboot is the old slot's. */
  async function stageTrial(to: Slot): Promise<KexecPrepared> {
    const k = await d.prepareKexec({ slot: to, boot: "trial" });
    if (k.ok) d.grubenv.update({ kiln_try: "" });
    else d.log(`upgrade: no kexec (${k.why}): GRUB boots the trial`);
    return k;
  }

  function atBoot(): void {
    const r = record;
    const slot = d.slots?.slot;
    if (!r || !slot || !["staged", "pending", "trial"].includes(r.state)) return;
    if (slot === r.to.slot && d.slots?.bootMode === "trial") {
      startTrial(r);
      return;
    }
    if (slot === r.to.slot) {
      // Committed in grubenv, but the record was not updated before the machine went down.
      save({ ...r, state: "committed", reason: "" });
      event(`slot ${slot} (kiln ${r.to.version}) is the default`);
      return;
    }
    const why =
      r.failure ??
      (r.state === "trial"
        ? `slot ${r.to.slot} (kiln ${r.to.version}) started, but the machine restarted before its services were healthy`
        : `slot ${r.to.slot} (kiln ${r.to.version}) did not boot: its kernel or initramfs failed before machined started`);
    save({ ...r, state: "rolled-back", reason: why });
    event(`rolled back: running slot ${slot} (kiln ${d.runningVersion}) again; ${why}`);
  }

  function startTrial(r: UpgradeRecord): void {
    try {
      if (d.grubenv.read().kiln_try === r.to.slot) d.grubenv.update({ kiln_try: "" });
    } catch (err) {
      d.log(`upgrade: grubenv: ${(err as Error).message}`);
    }
    const ids = r.services.map((s) => s.id).join(", ") || "no services";
    save({ ...r, state: "trial", reason: `waiting up to ${Math.round(r.healthTimeoutMs / 1000)} s for ${ids}` });
    event(`slot ${r.to.slot} (kiln ${r.to.version}) on trial: waiting for ${ids}`);
    void runTrial({ services: d.services, watched: r.services, timeoutMs: r.healthTimeoutMs, ...(d.trialPollMs ? { pollMs: d.trialPollMs } : {}) }).then((res) => {
      const now = record ?? r;
      if (now.state !== "trial") return;
      if (res.ok) {
        try {
          d.grubenv.update({ kiln_slot: r.to.slot, kiln_try: "" });
        } catch (err) {
          return failTrial(now, `committing slot ${r.to.slot} failed: ${(err as Error).message}`);
        }
        save({ ...now, state: "committed", reason: "" });
        return event(`committed: slot ${r.to.slot} (kiln ${r.to.version}) is the default now`);
      }
      failTrial(now, `slot ${r.to.slot} (kiln ${r.to.version}) was ${res.reason}`);
    });
  }

  function failTrial(r: UpgradeRecord, why: string): void {
    save({ ...r, failure: why });
    event(`trial failed: ${why}; rebooting into slot ${r.from.slot}`);
    d.requestReboot(`the trial of slot ${r.to.slot} failed`);
  }

  return {
    upload: (chunk) => {
      runningSlot();
      if (!d.uploads) throw refused("/var is not on a disk here: there is no room to receive a bundle");
      return d.uploads.append(chunk);
    },
    precheck: () => void precheck(),
    stages,
    upgrade,
    planRollback: (mode, force) => {
      const from = runningSlot();
      const to = other(from);
      const version = versions.get(to) ?? "";
      if (!version) throw refused(`slot ${to} holds no kiln: there is nothing to roll back to`);
      const run = async (): Promise<RebootRequest> => {
        d.grubenv.update({ kiln_slot: to, kiln_try: "" });
        save({ state: "rolled-back", from: { slot: to, version }, to: { slot: from, version: d.runningVersion }, reason: "rolled back by request", services: [], healthTimeoutMs: 0, time: "" });
        const kexec = mode === "default" ? await d.prepareKexec({ slot: to, boot: "committed" }) : undefined;
        event(`rollback: slot ${to} (kiln ${version}) is the default; rebooting into it${kexec?.ok ? " by kexec" : ""}`);
        const why = `rollback to slot ${to} (kiln ${version})`;
        return kexec?.ok ? rebootRequest("reboot", why, { kexec, force }) : rebootRequest("reboot", why, { mode: "powercycle", force });
      };
      return { slot: to, version, run };
    },
    atBoot,
    status: () => (record ? statusOf(record) : undefined),
    slots: () => (d.slots ? { ...d.slots, slots: d.slots.slots.map((s) => ({ ...s, version: versions.get(s.name) ?? s.version })) } : undefined),
    rebootKexec: async () => {
      // A trial committed in this boot: its slot is the committed one now.
      if (record?.state === "committed" && d.slots?.bootMode === "trial" && d.slots.slot === record.to.slot) return d.prepareKexec({ slot: record.to.slot as Slot, boot: "committed" });
      if (record?.state !== "staged") return d.prepareKexec();
      const k = await stageTrial(record.to.slot as Slot);
      if (k.ok) save({ ...record, state: "pending" });
      return k;
    },
  };
}

/** Unpacks and checks a bundle; INVALID_ARGUMENT (nothing written) for a bad one or an older version without force. */
async function verify(d: UpgraderDeps, tar: string, dir: string, force: boolean): Promise<BundleInfo> {
  let bundle: BundleInfo;
  try {
    bundle = await d.extract(tar, dir);
  } catch (err) {
    if (err instanceof BundleError) throw invalid(`the bundle is refused, nothing was written: ${err.message}`);
    throw err;
  }
  if (!force && semver.valid(d.runningVersion) && !semver.gt(bundle.version, d.runningVersion)) {
    throw refused(`the bundle holds kiln ${bundle.version}, which is not newer than the running ${d.runningVersion}; nothing was written. Pass --force to install it anyway`);
  }
  return bundle;
}

function step(phase: UpgradeStep["phase"], message: string, done = 0, total = 0, status?: UpgradeStatusInfo): UpgradeStep {
  return { phase, message, done, total, ...(status ? { status } : {}) };
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
