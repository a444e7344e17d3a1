// The read-only inspection part of the Machine facade: kernel log, memory,
// processes, mounts, hostname, time, files and containers, each from its
// own module. runtime.ts spreads it into the facade.
import { hostname } from "node:os";
import type { MachineConfig } from "../../config/schema.js";
import { containerdPaths } from "../../machinery/paths.js";
import type { Machine } from "../machine.js";
import type { TimeSyncStatus } from "../time/time-sync.js";
import type { Paths } from "../service.js";
import { listContainers } from "./containers.js";
import { listImages } from "./images.js";
import { createKernelLog, type KmsgSource } from "./dmesg.js";
import { createFileGuard, type Forbidden } from "./file-guard.js";
import { listFiles, readFileChunks } from "./files.js";
import { readMeminfo } from "./meminfo.js";
import { readMounts } from "./mounts.js";
import { readProcesses } from "./processes.js";
import { unwiredTimeStatus } from "./time.js";

export type Inspector = Pick<Machine, "dmesg" | "memory" | "processes" | "mounts" | "hostname" | "time" | "list" | "read" | "containers" | "images">;

export interface InspectorDeps {
  paths: Paths;
  /** The current config; undefined in maintenance mode. */
  config(): MachineConfig | undefined;
  /** Defaults: /proc, /dev/kmsg polled every 250 ms, containerd's socket. */
  procDir?: string;
  kmsg?: KmsgSource;
  containerdSocket?: string;
  /** The time sync's status (src/machined/time/time-sync.ts); without one, the servers are reported as not synchronized. */
  timeSync?: () => TimeSyncStatus;
}

/** Directories List and Read never serve: STATE and apid's TLS directory. */
export function forbiddenDirs(paths: Paths): Forbidden[] {
  return [
    { path: paths.state, why: "the STATE directory, which holds the machine's secrets" },
    { path: paths.run("apid"), why: "apid's TLS directory, which holds its private key" },
  ];
}

/** The inspection methods over this machine's /proc, /sys and /dev. */
export function createInspector(d: InspectorDeps): Inspector {
  const proc = d.procDir ?? "/proc";
  const guard = createFileGuard(forbiddenDirs(d.paths));
  const kernelLog = createKernelLog(d.kmsg ?? { path: "/dev/kmsg", pollMs: 250 });
  return {
    dmesg: (q) => kernelLog.read(q),
    memory: () => readMeminfo(proc),
    processes: () => readProcesses(proc),
    mounts: () => readMounts(proc),
    hostname: () => hostname(),
    time: () => {
      const servers = d.config()?.machine.time?.servers ?? [];
      return { servers, now: new Date(), sync: d.timeSync?.() ?? unwiredTimeStatus(servers) };
    },
    list: (q) => listFiles(guard, q),
    read: (q) => readFileChunks(guard, q),
    containers: (namespace) => listContainers(d.containerdSocket ?? containerdPaths.socket, namespace),
    images: (namespace) => listImages(d.containerdSocket ?? containerdPaths.socket, namespace),
  };
}
