// What kilnctl needs from the outside world, passed in so tests can run the
// whole program in-process with fakes.
import type { ClusterCreateOptions, ClusterInfo, CreateOptions, MachineInfo } from "../provision/provisioner.js";

/** Where output goes; the shape of process.stdout that kilnctl uses. */
export interface OutStream {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  /** Calls `fn` on Ctrl-C (SIGINT) until the returned function is called. */
  onInterrupt(fn: () => void): () => void;
}

/** The provisioner functions `kilnctl cluster` calls (src/provision/index.ts). */
export interface Provisioner {
  createMachine(opts: CreateOptions): Promise<MachineInfo>;
  destroyMachine(name: string): Promise<void>;
  listMachines(name?: string): Promise<MachineInfo[]>;
  /** A multi-node qemu cluster on a host bridge; resolves once every machine's API answers. */
  createCluster(opts: ClusterCreateOptions): Promise<ClusterInfo>;
  /** Removes whatever is left of cluster `name`; false when there was nothing. */
  destroyCluster(name: string): Promise<boolean>;
  /** Multi-node clusters (or just `name`; none when unknown). */
  listClusters(name?: string): ClusterInfo[];
}

/** The config parser `kilnctl validate` calls (src/config/parse.ts). */
export type ParseConfig = (text: string) => { config: unknown; warnings: string[] } | { errors: string[]; warnings: string[] };

export interface CliDeps {
  io: CliIo;
  /** Loaded on first use: only `cluster` needs it. */
  provisioner(): Promise<Provisioner>;
  /** Loaded on first use: only `validate` needs it. */
  parseConfig(): Promise<ParseConfig>;
  now(): Date;
  /** What `cluster create --controlplanes/--workers` does once its machines answer (cluster-hooks.ts); a test replaces them. */
  clusterHooks?: ClusterHooks;
}

/** cluster-hooks.ts's two steps, by shape (their context is that file's ClusterHookContext). */
export interface ClusterHooks {
  afterMachinesUp(hook: never): Promise<void>;
  waitForClusterHealth(hook: never, timeoutMs: number): Promise<void>;
}

/** The real process: its streams, environment and signals, and the real provisioner and parser. */
export function processDeps(): CliDeps {
  return {
    io: {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      onInterrupt: (fn) => {
        process.on("SIGINT", fn);
        return () => process.off("SIGINT", fn);
      },
    },
    provisioner: () => import("../provision/index.js"),
    parseConfig: async () => (await import("../config/parse.js")).parseConfig,
    now: () => new Date(),
  };
}
