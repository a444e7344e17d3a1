// What a service is: a declarative definition (one file each under
// src/machined/services/), the runner that runs it, and the states it moves through.
import type { MachineConfig } from "../config/schema.js";
import type { PlatformName } from "../machinery/platform.js";
import type { Sys } from "../sys/sys.js";

/** The states a service moves through; every change is an event. */
export type ServiceStateName = "Waiting" | "Preparing" | "Running" | "Stopping" | "Finished" | "Failed" | "Skipped";

/** `forever`: always restart; `once`: never; `until-success`: restart after a non-zero exit. */
export type RestartPolicy = "forever" | "once" | "until-success";

/** Where machined keeps things; paths are inside the machine's root. */
export interface Paths {
  /** Absolute path of a binary in the image, e.g. bin("containerd"). */
  bin(name: string): string;
  /** Directory for runtime state of a service, under /run (tmpfs). */
  run(id: string): string;
  /** The machine API's unix socket. */
  apiSocket: string;
  /** Persisted state (STATE partition or its stand-in). */
  state: string;
  /** Service logs. */
  logDir: string;
  /** Root of the cgroup2 hierarchy. */
  cgroupRoot: string;
  /** The image's components.json (versions read when it was built). */
  components: string;
  /** The image's cache of OCI archives, imported into containerd before the kubelet starts. */
  imageCache: string;
}

/** What a service definition may read while it is prepared and run. */
export interface MachineContext {
  paths: Paths;
  platform: PlatformName;
  sys: Sys;
  /** The current machine config; undefined in maintenance mode. */
  config: MachineConfig | undefined;
  /** Extra environment for every service (machine.env). */
  env: Record<string, string>;
  /** Settles once machined has loaded the image's runtime kernel modules (failures logged); settled at once where it loads none. */
  runtimeModules: Promise<void>;
}

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Where a running service's output goes. */
export interface LogSink {
  write(chunk: Uint8Array): void;
}

/** A started service process. */
export interface RunningProcess {
  pid: number;
  /** Resolves once the main process has exited. */
  exited: Promise<ExitStatus>;
  /** Sends a signal to the main process. */
  signal(sig: NodeJS.Signals): void;
  /** Kills every process of the service (its cgroup), grandchildren included. */
  killAll(): void;
}

/** What the supervisor tells a runner about the service it runs. */
export interface RunScope {
  /** The service's id: its default cgroup is `<cgroupRoot>/system/<id>`. */
  id: string;
  /** Root of the cgroup2 hierarchy (Paths.cgroupRoot). */
  cgroupRoot: string;
}

/** Runs one instance of a service. Restart policy wraps it. */
export interface Runner {
  start(log: LogSink, scope?: RunScope): RunningProcess;
}

/** Throws (with a message) when unhealthy; resolves when healthy. */
export type HealthCheck = (m: MachineContext, signal: AbortSignal) => Promise<void>;

export interface HealthSpec {
  check: HealthCheck;
  /** Wait before the first check. Default 0. */
  initialDelayMs?: number;
  /** Between checks. Default 2000. */
  intervalMs?: number;
  /** One check's limit. Default 2000. */
  timeoutMs?: number;
  /**
   * Start period: until the first success, and for at most this long after
   * the process starts, a failed check leaves health unknown (not unhealthy)
   * and is retried every 250 ms. Default 10000.
   */
  startPeriodMs?: number;
}

/** A condition that must hold before a service starts; `describe` names it in events. */
export interface Condition {
  describe: string;
  /** Resolves when the condition holds; rejects when the signal aborts. `note` adds what it last saw to the Waiting message. */
  wait(m: MachineContext, signal: AbortSignal, note?: (detail: string) => void): Promise<void>;
}

export interface ServiceDefinition {
  id: string;
  /** Services that must be Running (and healthy, if they have a check) first. */
  dependsOn: string[];
  /** Returns a reason to skip the service on this machine, or undefined to run it. */
  skip?: (m: MachineContext) => string | undefined;
  conditions?: Condition[];
  /** Writes config files, creates directories; runs in state Preparing. */
  prepare?: (m: MachineContext) => Promise<void>;
  /**
   * Start the process while prepare runs, not after it: the process waits
   * for what prepare writes by itself. run() is called after prepare() has
   * been called (and has run to its first await). A failed prepare stops the
   * process and fails the start, as it would have before the process ran.
   * With restart "once" or "until-success" the process may end while
   * prepare still runs; the start ends (and may be started again) only after.
   */
  prepareAlongside?: boolean;
  run: (m: MachineContext) => Runner;
  restart: RestartPolicy;
  health?: HealthSpec;
  /** TERM→KILL grace period when stopping. Default 10000. */
  stopGraceMs?: number;
}

/** A service's state as the API reports it. */
export interface ServiceStatus {
  id: string;
  state: ServiceStateName;
  message: string;
  /** null: no check, or none has completed yet. */
  healthy: boolean | null;
  healthMessage: string;
  healthChangedAt: Date | undefined;
  pid: number;
  restarts: number;
  dependsOn: string[];
  since: Date;
}
