// What the machine API asks of machined. The gRPC server (src/machined/api/)
// maps protobuf to these calls; machined's main wires the real parts in.
import type { EventQuery, MachineEvent } from "./events.js";
import type { PlatformName, ServiceStatus } from "./service.js";

export type ApplyMode = "auto" | "no-reboot" | "reboot" | "staged" | "try";
export type RebootMode = "default" | "powercycle";

export interface VersionInfo {
  tag: string;
  nodeVersion: string;
  arch: string;
  platform: PlatformName;
  kernel: string;
  maintenance: boolean;
}

export interface ApplyRequest {
  yaml: string;
  mode: ApplyMode;
  dryRun: boolean;
  tryTimeoutMs: number;
}

export interface ApplyResult {
  /** The mode used: auto resolves to no-reboot or reboot. */
  mode: ApplyMode;
  details: string;
  warnings: string[];
  changes: string[];
  needsReboot: string[];
}

export interface LogQuery {
  id: string;
  /** Negative: the whole buffer. */
  tailLines: number;
  follow: boolean;
  signal?: AbortSignal;
}

/**
 * machined as the API sees it. Methods throw ApiError (src/grpc/errors.ts)
 * with the status the client should get: NOT_FOUND for an unknown service,
 * INVALID_ARGUMENT for a config that fails validation (message lists every
 * problem), FAILED_PRECONDITION while another sequence runs.
 */
export interface Machine {
  version(): VersionInfo;
  services(): ServiceStatus[];
  serviceStart(id: string): Promise<string>;
  serviceStop(id: string): Promise<string>;
  serviceRestart(id: string): Promise<string>;
  logs(query: LogQuery): AsyncIterable<Uint8Array>;
  events(query: EventQuery): AsyncIterable<MachineEvent>;
  /** Starts the reboot sequence and returns once it is under way. */
  reboot(mode: RebootMode, force: boolean): Promise<void>;
  shutdown(force: boolean): Promise<void>;
  applyConfiguration(req: ApplyRequest): Promise<ApplyResult>;
  /** The current config as YAML; undefined in maintenance mode. */
  configuration(): string | undefined;
}
