// What the machine API asks of machined. The gRPC server (src/machined/api/)
// maps protobuf to these calls; machined's main wires the real parts in.
import type { EventQuery, MachineEvent } from "./events.js";
import type { Holder, SequenceRun } from "./sequences/timeline.js";
import type { ContainerEntry } from "./inspect/containers.js";
import type { ArchiveImportRequest, ArchiveImportResult } from "./images/archive-upload.js";
import type { ImageEntry } from "./inspect/images.js";
import type { DmesgQuery } from "./inspect/dmesg.js";
import type { FileEntry, ListQuery, ReadQuery } from "./inspect/files.js";
import type { KernelRecord } from "./inspect/kmsg.js";
import type { MemoryInfo } from "./inspect/meminfo.js";
import type { MountEntry } from "./inspect/mounts.js";
import type { ProcessEntry } from "./inspect/processes.js";
import type { NetworkInspector } from "./network/inspect.js";
import type { PlatformName } from "../machinery/platform.js";
import type { ServiceStatus } from "./service.js";
import type { TimeSyncStatus } from "./time/time-sync.js";
import type { AdminKubeconfig, KubeconfigRequest } from "./kubeconfig.js";
import type { TrustAnswer, TrustRequest } from "./trust/issue.js";

export type ApplyMode = "auto" | "no-reboot" | "reboot" | "staged" | "try";
export type RebootMode = "default" | "powercycle";

export interface VersionInfo {
  tag: string;
  nodeVersion: string;
  arch: string;
  platform: PlatformName;
  kernel: string;
  maintenance: boolean;
  /** The running boot slot, how it was booted, and both slots' versions (empty without a disk). */
  slot?: string;
  bootMode?: string;
  slots?: { name: string; version: string; active: boolean }[];
  /** The last upgrade or rollback recorded on STATE. */
  upgrade?: UpgradeStatusInfo;
}

/** An upgrade's record on STATE (src/machined/upgrade/record.ts), as the API shows it. */
export interface UpgradeStatusInfo {
  state: "staged" | "pending" | "trial" | "committed" | "rolled-back";
  fromSlot: string;
  fromVersion: string;
  toSlot: string;
  toVersion: string;
  reason: string;
  time: Date;
}

export interface UpgradeUploadChunk {
  /** "" starts a new upload. */
  uploadId: string;
  offset: number;
  data: Uint8Array;
  /** The whole bundle's size (first chunk). */
  totalSize: number;
}

export interface UpgradeOptions {
  source: { uploadId: string } | { url: string };
  force: boolean;
  stage: boolean;
  rebootMode: RebootMode;
  /** 0: the default (5 minutes). */
  healthTimeoutMs: number;
}

/** One step of an upgrade, streamed to the caller. */
export interface UpgradeStep {
  phase: "fetch" | "verify" | "write" | "bootloader" | "staged" | "reboot";
  message: string;
  done: number;
  total: number;
  status?: UpgradeStatusInfo;
}

export interface ApplyRequest {
  yaml: string;
  mode: ApplyMode;
  dryRun: boolean;
  tryTimeoutMs: number;
  /** The call came through apid's maintenance mode (no client certificate): refused once a config exists. */
  maintenance?: boolean;
}

export interface ApplyResult {
  /** The mode used: auto resolves to no-reboot or reboot. */
  mode: ApplyMode;
  details: string;
  warnings: string[];
  changes: string[];
  needsReboot: string[];
}

export interface ResetRequest {
  /** Stop services gracefully first (else force). */
  graceful: boolean;
  /** Reboot afterwards (else power off). */
  reboot: boolean;
  /** Among "state", "ephemeral"; empty: both. */
  wipe: string[];
}

export interface LogQuery {
  id: string;
  /** Negative: the whole buffer. */
  tailLines: number;
  follow: boolean;
  signal?: AbortSignal;
}

export interface TimeInfo {
  /** machine.time.servers from the config ([] without one). */
  servers: string[];
  now: Date;
  /** The time sync's state (src/machined/time/). */
  sync: TimeSyncStatus;
}

export interface ClientConfigRequest {
  roles: string[];
  /** Lifetime of the certificate; 0: the PKI default. */
  ttlMs: number;
}

export interface ClientConfiguration {
  /** PEM: the machine CA certificate, the client certificate and its key. */
  ca: string;
  crt: string;
  key: string;
  /** A complete kilnconfig (YAML) with one context for this machine. */
  kilnconfig: string;
}

/**
 * machined as the API sees it. Methods throw MachineError (./errors.ts) with
 * the kind of failure, which the API layer (api/errors.ts) turns into a
 * status: not-found for an unknown service, invalid for a config that fails
 * validation (message lists every problem), busy while another sequence runs.
 */
export interface Machine extends NetworkInspector {
  version(): VersionInfo;
  services(): ServiceStatus[];
  serviceStart(id: string): Promise<string>;
  serviceStop(id: string): Promise<string>;
  serviceRestart(id: string): Promise<string>;
  logs(query: LogQuery): AsyncIterable<Uint8Array>;
  events(query: EventQuery): AsyncIterable<MachineEvent>;
  /** The lifecycle's timeline (the boot and the newest sequences) and who holds the lock. */
  sequences(): { runs: SequenceRun[]; running?: Holder };
  /** Starts the reboot sequence and returns once it is under way. */
  reboot(mode: RebootMode, force: boolean): Promise<void>;
  shutdown(force: boolean): Promise<void>;
  /** Appends a chunk to an upload on EPHEMERAL; FAILED_PRECONDITION for a wrong offset or without a disk. */
  upgradeUpload(chunk: UpgradeUploadChunk): Promise<{ uploadId: string; received: number }>;
  /** Verifies a bundle, writes the inactive slot, and (unless staged) reboots into it on trial; steps as they happen. */
  /** Takes the lock for the upgrade sequence and streams its steps; the sequence goes on if the caller leaves. */
  upgrade(req: UpgradeOptions, signal: AbortSignal): AsyncIterable<UpgradeStep>;
  /** Commits the other slot and reboots into it; FAILED_PRECONDITION when it holds no kiln. */
  rollback(mode: RebootMode, force: boolean): Promise<{ slot: string; version: string }>;
  /** Starts wiping the machine back to maintenance mode; INVALID_ARGUMENT for an unknown wipe target. */
  reset(req: ResetRequest): Promise<void>;
  /** Founds the cluster's etcd on this control plane (the bootstrap sequence); FAILED_PRECONDITION when it cannot or did. */
  bootstrap(): Promise<{ message: string }>;
  /** A short-lived admin kubeconfig signed by the Kubernetes CA; FAILED_PRECONDITION without its key (a worker) or the endpoint. */
  kubeconfig(req: KubeconfigRequest): Promise<AdminKubeconfig>;
  applyConfiguration(req: ApplyRequest): Promise<ApplyResult>;
  /** The current config as YAML; undefined in maintenance mode. */
  configuration(): string | undefined;

  /** Kernel log records in batches: the buffer's tail, then (follow) new ones until the signal aborts. */
  dmesg(query: DmesgQuery): AsyncIterable<KernelRecord[]>;
  memory(): Promise<MemoryInfo>;
  processes(): Promise<ProcessEntry[]>;
  mounts(): Promise<MountEntry[]>;
  /** The kernel's hostname now. */
  hostname(): string;
  time(): TimeInfo;
  /** Entries under a directory; PERMISSION_DENIED under STATE or apid's TLS directory, NOT_FOUND when missing. */
  list(query: ListQuery): AsyncIterable<FileEntry>;
  /** A regular file's bytes in chunks; refused as list is. */
  read(query: ReadQuery): AsyncIterable<Uint8Array>;
  /** Containers of one containerd namespace, or of all (""); UNAVAILABLE when containerd is not running. */
  containers(namespace: string): Promise<ContainerEntry[]>;
  /** Images containerd knows, in `namespace` ("" for every namespace). */
  images(namespace: string): Promise<ImageEntry[]>;
  /** Imports an OCI image archive sent over the API into containerd; RESOURCE_EXHAUSTED while another import runs or when /var has no room. */
  imageImport(req: ArchiveImportRequest): Promise<ArchiveImportResult>;
  /** A client certificate for `roles` signed by the machine CA; FAILED_PRECONDITION without config or CA key. */
  generateClientConfiguration(req: ClientConfigRequest): Promise<ClientConfiguration>;
  /** A control plane signs another machine's apid server certificate (TrustService); forbidden for a wrong machine.token, refused off a control plane. */
  issueMachineCertificate(req: TrustRequest): Promise<TrustAnswer>;
}
