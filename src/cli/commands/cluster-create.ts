// `kilnctl cluster create [--provisioner sandbox|qemu] --name NAME [--config FILE] [--wait-timeout D]`,
// for the sandbox: --control-plane DIR, and for qemu: --image DIR, --config-via fw_cfg|drive, --config-url URL, --disk SIZE | --install-disk SIZE|PATH, --memory MB, --cpus N, --rtc-base DATE.
// With --controlplanes C and/or --workers W (qemu only), a cluster of VMs on
// a host bridge instead (cluster-create-multi.ts).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { type CreateOptions, PROVISIONERS, type ProvisionerName } from "../../provision/provisioner.js";
import type { CliDeps } from "../deps.js";
import type { ClusterFlags } from "./cluster-create-multi.js";
import { parseDurationFlag } from "../duration.js";
import { toCliError, usageError } from "../errors.js";
import { parseSize } from "../../provision/qemu/disk.js";
import { sizeFlag } from "../size-flag.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { machineColumns } from "../machine-view.js";
import { createSession } from "../session.js";

/** Every flag of `cluster create`: a single machine's read here, a cluster's in cluster-create-multi.ts. */
type CreateFlags = ClusterFlags & { configVia?: "fw_cfg" | "drive"; controlPlane?: string };

/** Collects a repeated option's values. */
const collect = (value: string, previous: string[]) => [...previous, value];

/** `cluster create`: starts a machine and prints its MachineInfo once its API answers. */
export function createClusterCreateCommand(deps: CliDeps): Command {
  const cmd = new Command("create")
    .description("create and start a machine")
    .addOption(new Option("--provisioner <name>", "where the machine runs: namespaces on this host, or a QEMU VM").choices(PROVISIONERS).default("sandbox"))
    .requiredOption("--name <name>", "machine name")
    .option("--config <file>", "machine config to boot with (default: maintenance mode)")
    .option("--wait-timeout <duration>", "how long to wait for the machine API to answer")
    .option("--control-plane <dir>", "sandbox: add kube-apiserver, kube-controller-manager and kube-scheduler from DIR (hack/kubernetes.sh's) to the rootfs")
    .option("--image <dir>", "qemu: image directory to boot (kilnctl image build --out DIR)")
    .addOption(new Option("--config-via <how>", "qemu: how --config reaches the machine").choices(["fw_cfg", "drive"]).default("fw_cfg"))
    .option("--config-url <url>", "qemu: the machine fetches its config from this http(s) URL (kiln.config= on the kernel command line)")
    .option("--disk <size>", "qemu: boot from a copy of the image's disk.raw grown to SIZE (e.g. 4G, 512M), with STATE and EPHEMERAL kept across reboots (for a cluster: one per node)")
    .option(
      "--install-disk <size|path>",
      "qemu: boot kernel+initramfs with a disk to install to as /dev/vda (SIZE: a new blank one, e.g. 2G; PATH: that file, used in place) and DIR/kiln-upgrade.tar as install media (/dev/vdb); set machine.install.disk: /dev/vda in the config",
    )
    .option("--memory <mb>", "qemu: memory in MiB", "2048")
    .option("--cpus <n>", "qemu: virtual CPUs", "2")
    .option("--rtc-base <date>", "qemu: where the VM's clock starts: utc (default), localtime or a date YYYY-MM-DD[THH:MM:SS] (to test time sync)")
    .option("--controlplanes <n>", "qemu: a cluster of VMs on a host bridge with N control planes (default 1 when --workers is given)")
    .option("--workers <n>", "qemu: and N workers (default 0)")
    .option("--config-patch <patch>", "cluster: a JSON Patch or merge patch for every node's config, FILE, @FILE or inline (repeatable)", collect, [])
    .option("--config-patch-controlplanes <patch>", "cluster: a patch for the control planes' configs (repeatable)", collect, [])
    .option("--config-patch-workers <patch>", "cluster: a patch for the workers' configs (repeatable)", collect, [])
    .option("--wait", "cluster: wait until the cluster is healthy, not only until every machine's API answers");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: CreateFlags, c: Command) => {
    const s = createSession(c, deps);
    if (isMultiNode(f)) {
      const { createMultiNodeCluster } = await import("./cluster-create-multi.js");
      return createMultiNodeCluster(f, s, deps);
    }
    refuseClusterFlags(f);
    const opts = createOptions(f, s.progress);
    const provisioner = await deps.provisioner();
    const info = await provisioner.createMachine(opts).catch((err: unknown) => {
      throw toCliError(err, { what: `creating cluster "${f.name}"` });
    });
    s.print(renderOne(s.format, info, machineColumns));
  });
}

/** Whether these flags ask for a multi-node cluster. */
function isMultiNode(f: CreateFlags): boolean {
  return f.controlplanes !== undefined || f.workers !== undefined;
}

/** The cluster-only flags, refused for a single machine. */
function refuseClusterFlags(f: CreateFlags): void {
  const given = [
    ["--config-patch", f.configPatch.length > 0],
    ["--config-patch-controlplanes", f.configPatchControlplanes.length > 0],
    ["--config-patch-workers", f.configPatchWorkers.length > 0],
    ["--wait", f.wait === true],
  ].find(([, on]) => on);
  if (given) throw usageError(String(given[0]), "only a cluster takes it: add --controlplanes N and/or --workers N (with --provisioner qemu)");
}

/** The provisioner's options for these flags. */
function createOptions(f: CreateFlags, progress: (step: string) => void): CreateOptions {
  const opts: CreateOptions = { name: f.name, provisioner: f.provisioner as ProvisionerName, onProgress: progress };
  if (f.config !== undefined) opts.configPath = resolve(f.config);
  if (f.waitTimeout !== undefined) opts.timeoutMs = parseDurationFlag("--wait-timeout", f.waitTimeout);
  if (f.provisioner !== "qemu") {
    const flagNames = { image: "--image", configUrl: "--config-url", disk: "--disk", installDisk: "--install-disk", rtcBase: "--rtc-base" } as const;
    const qemuOnly = (["image", "configUrl", "disk", "installDisk", "rtcBase"] as const).filter((k) => f[k] !== undefined);
    if (qemuOnly.length) throw usageError(flagNames[qemuOnly[0]!], "only the qemu provisioner takes it (add --provisioner qemu)");
    if (f.controlPlane !== undefined) opts.controlPlane = resolve(f.controlPlane);
    return opts;
  }
  if (f.controlPlane !== undefined) throw usageError("--control-plane", "only the sandbox provisioner takes it (a qemu image carries its programs: kilnctl image build --kubernetes DIR)");
  if (f.image !== undefined) opts.imageDir = resolve(f.image);
  if (f.configVia !== undefined) opts.configVia = f.configVia;
  if (f.configUrl !== undefined) {
    if (!/^https?:\/\/\S+$/.test(f.configUrl)) throw usageError("--config-url", `expected an http(s) URL without spaces, got ${JSON.stringify(f.configUrl)}`);
    opts.configUrl = f.configUrl;
  }
  if (f.disk !== undefined) opts.diskBytes = sizeFlag("--disk", f.disk);
  if (f.installDisk !== undefined) {
    if (f.disk !== undefined) throw usageError("--install-disk", "--disk boots the image's disk.raw; --install-disk boots kernel+initramfs to install onto a disk: pick one");
    opts.installDisk = installDisk(f.installDisk);
  }
  if (f.rtcBase !== undefined) {
    if (!RTC_BASE.test(f.rtcBase)) throw usageError("--rtc-base", `expected utc, localtime or a date such as 2025-01-31 or 2025-01-31T12:00:00, got ${JSON.stringify(f.rtcBase)}`);
    opts.rtcBase = f.rtcBase;
  }
  opts.memoryMb = positiveInt("--memory", f.memory ?? "2048", 128);
  opts.cpus = positiveInt("--cpus", f.cpus ?? "2", 1);
  return opts;
}

/** What QEMU's -rtc base= takes. */
const RTC_BASE = /^(utc|localtime|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?)$/;

/** --install-disk: a size makes a new blank disk; anything else names an existing file. */
function installDisk(text: string): { sizeBytes: number } | { path: string } {
  const bytes = parseSize(text);
  if (bytes !== undefined) return { sizeBytes: bytes };
  if (!existsSync(text)) throw usageError("--install-disk", `expected a size such as 2G or an existing disk image file, got ${JSON.stringify(text)}`);
  return { path: resolve(text) };
}

/** A whole number no smaller than `min`, or a usage error naming the flag. */
function positiveInt(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw usageError(flag, `expected a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
}
