// What `kilnctl cluster create|destroy|show` asks of a provisioner. The
// sandbox provisioner (src/provision/sandbox/) is the first; qemu follows.

export type ProvisionerName = "sandbox";

export interface CreateOptions {
  name: string;
  provisioner: ProvisionerName;
  /** Machine config file to start with; none means maintenance mode. */
  configPath?: string;
  /** Milliseconds to wait for the API to answer. */
  timeoutMs?: number;
  /** Called with each step ("building rootfs", "starting", "waiting for API"). */
  onProgress?: (step: string) => void;
}

/** The contract `cluster create -o json` prints (scripts rely on these keys). */
export interface MachineInfo {
  name: string;
  provisioner: ProvisionerName;
  /** Where the machine API answers, e.g. "unix:///var/lib/kiln/sandboxes/a/machined.sock". */
  endpoint: string;
  /** Host PID of the machine's PID 1 (0 when not running). */
  pid: number;
  /** "running" | "stopped". */
  status: string;
  /** Host directory holding this machine's state, logs and console output. */
  stateDir: string;
  /** machined's console output on the host. */
  consoleLog: string;
}
