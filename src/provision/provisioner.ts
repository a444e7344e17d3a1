// What `kilnctl cluster create|destroy|show` asks of a provisioner. The
// sandbox provisioner (src/provision/sandbox/) runs machined in namespaces;
// the qemu provisioner (src/provision/qemu/) boots the image in a VM, or a
// cluster of VMs on a host bridge.
import type { ClusterPlan, NodeRole } from "./qemu/cluster-plan.js";

export type { ClusterPlan, NodeRole, PlannedNode } from "./qemu/cluster-plan.js";

export type ProvisionerName = "sandbox" | "qemu";

/** Every provisioner, for flags and messages. */
export const PROVISIONERS: ProvisionerName[] = ["sandbox", "qemu"];

export interface CreateOptions {
  name: string;
  provisioner: ProvisionerName;
  /** Machine config file to start with; none means maintenance mode. */
  configPath?: string;
  /** Milliseconds to wait for the API to answer. */
  timeoutMs?: number;
  /** sandbox: a directory holding kube-apiserver, kube-controller-manager and kube-scheduler (hack/kubernetes.sh builds it), added to the rootfs so a control plane runs them. */
  controlPlane?: string;
  /** qemu: the image directory to boot (kilnctl image build --out DIR). */
  imageDir?: string;
  /** qemu: how --config reaches the machine (default fw_cfg). */
  configVia?: "fw_cfg" | "drive";
  /** qemu: a URL the machine fetches its config from (kiln.config= on the kernel command line). */
  configUrl?: string;
  /** qemu: boot from a copy of the image's disk.raw grown to this many bytes (else direct kernel boot). */
  diskBytes?: number;
  /**
   * qemu: boot kernel+initramfs with this disk as /dev/vda for the machine to
   * install itself to (a new blank file of `sizeBytes`, or an existing file
   * used in place) and the image's kiln-upgrade.tar as install media (/dev/vdb).
   */
  installDisk?: { sizeBytes: number } | { path: string };
  /** qemu: memory in MiB (default 2048). */
  memoryMb?: number;
  /** qemu: virtual CPUs (default 2). */
  cpus?: number;
  /** qemu: where the VM's clock (its RTC) starts: "utc" (default), "localtime" or a date "YYYY-MM-DD[THH:MM:SS]" (QEMU's -rtc base=). */
  rtcBase?: string;
  /** Called with each step ("building rootfs", "starting", "waiting for API"). */
  onProgress?: (step: string) => void;
}

/** The contract `cluster create -o json` prints (scripts rely on these keys). */
export interface MachineInfo {
  name: string;
  provisioner: ProvisionerName;
  /**
   * Where apid, the machine's network API, answers: "HOST:PORT", e.g.
   * "10.213.0.2:50000" (what `kilnctl -e` takes, as for a remote machine).
   * "" while the machine is stopped: its address is given back then.
   */
  endpoint: string;
  /**
   * machined's own API on the host, trusted and local, e.g.
   * "unix:///var/lib/kiln/sandboxes/a/machined.sock". It answers without
   * apid and without certificates: for tests, the demo and `cluster destroy`.
   */
  localEndpoint: string;
  /** The machine's IPv4 address (its eth0), e.g. "10.213.0.2"; "" while stopped. */
  address: string;
  /** Host PID of the machine's PID 1 (0 when not running). */
  pid: number;
  /** "running" | "stopped". */
  status: string;
  /** Host directory holding this machine's state, logs and console output. */
  stateDir: string;
  /** machined's console output on the host. */
  consoleLog: string;
}

/** What `cluster create --controlplanes C --workers W` asks of the qemu provisioner. */
export interface ClusterCreateOptions {
  name: string;
  controlplanes: number;
  workers: number;
  /** The image directory to boot; default: the last one `kilnctl image build` made. */
  imageDir?: string;
  /** Milliseconds to wait for every machine's API to answer. */
  timeoutMs?: number;
  /** Memory per VM in MiB (default 2048). */
  memoryMb?: number;
  /** Virtual CPUs per VM (default 2). */
  cpus?: number;
  /**
   * Boot every node from its own copy of the image's disk.raw grown to this
   * many bytes (STATE and EPHEMERAL kept across reboots: a control plane's
   * etcd survives one); default: diskless (kernel+initramfs, all on tmpfs).
   */
  diskBytes?: number;
  /**
   * The machine config of every node (by node name), made once the network
   * is planned: the control-plane endpoint is the first control plane's
   * fixed address. The CLI generates the secrets and applies the patches.
   */
  configsFor(plan: ClusterPlan): Promise<Record<string, string>>;
  onProgress?: (step: string) => void;
}

/** One node of a cluster, as `cluster show NAME` prints it. */
export interface ClusterNodeInfo {
  name: string;
  role: NodeRole;
  /** Its fixed address on the cluster's bridge. */
  address: string;
  mac: string;
  /** apid: "ADDRESS:50000", reachable from the host directly. */
  endpoint: string;
  /** "running" | "stopped" (QEMU is gone) | "missing" (never started). */
  status: string;
  /** QEMU's PID (0 when not running). */
  pid: number;
  stateDir: string;
  consoleLog: string;
}

/** A multi-node cluster: its network and nodes. */
export interface ClusterInfo {
  name: string;
  provisioner: "qemu";
  /** "creating" until every machine's API answered, then "running". */
  status: string;
  bridge: string;
  subnet: string;
  /** The host's address on the bridge. */
  hostAddress: string;
  image: string;
  stateDir: string;
  nodes: ClusterNodeInfo[];
}
