// Well-known paths of a kiln machine, in one place: where the builder puts
// things in the initramfs and the image, where stage 1 mounts, and where
// machined, apid and the services keep their files. The builder writes these
// paths and the machine reads them, so they are part of the contract.
//
// Paths the kernel defines and code reads once (/proc/self/…, /sys/class/…,
// the device nodes of the mount table) are named where they are read.

/** The search PATH services and stage 1's children start with. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Where the builder puts things in the initramfs, which stage 1 runs from. */
export const initramfsPaths = {
  /** Stage 1: the kernel runs /init. */
  init: "/init",
  rootfs: "/rootfs.sqsh",
  /** node: run by stage 1, then bound over the root's copy. */
  node: "/usr/bin/node",
  /** The modules mounting the root needs (loop, squashfs, overlay), one absolute path a line, in load order: loaded first. */
  rootModuleList: "/etc/kiln/root-modules",
  /** The rest of the boot set, the same way: loaded on libuv's pool while machined's bundle loads. */
  moduleList: "/etc/kiln/modules",
  /** Where stage 1 assembles the root before moving it over /. */
  newRoot: "/newroot",
} as const;

/** Where things live in the image (rootfs.sqsh, merged /usr). */
export const imagePaths = {
  /** What stage 1 execs in the new root: machined. */
  init: "/sbin/init",
  bin: "/usr/bin",
  node: "/usr/bin/node",
  mkfsExt4: "/usr/sbin/mkfs.ext4",
  /** Bundled JavaScript (machined, apid…) and its native modules. */
  kilnLib: "/usr/lib/kiln",
  /** Versions of the programs beyond the base, Kubernetes' among them (machinery/components.ts). */
  components: "/usr/lib/kiln/components.json",
  /** OCI image archives machined imports into containerd before the kubelet starts (pause.tar, --image-cache files). */
  imageCache: "/usr/lib/kiln/images",
  /** The kiln version (written by `kilnctl image build --version`). */
  version: "/usr/lib/kiln/VERSION",
  /**
   * What a machine booted from kernel + initramfs needs to install itself:
   * disk.raw's first bytes, up to BOOT-A (MBR boot code, primary GPT, BIOS
   * boot partition, ESP; see src/image/disk.ts).
   */
  diskHead: "/usr/lib/kiln/boot/disk-head.img",
  /** Kernel modules, one directory a kernel release. */
  kernelModules: "/usr/lib/modules",
  cniBin: "/usr/lib/cni",
} as const;

/** Stage 1's mount points, and kiln's own places on them. */
export const mountPoints = {
  proc: "/proc",
  sys: "/sys",
  cgroup: "/sys/fs/cgroup",
  dev: "/dev",
  run: "/run",
  tmp: "/tmp",
  /** kiln's tmpfs: persisted state and the overlays' upper layers. */
  system: "/system",
  overlays: "/system/overlays",
  etcOverlay: "/system/overlays/etc",
  /** Persisted state: the STATE partition, or the platform volume's state/ in the sandbox. */
  state: "/system/state",
  /** An overlay over the image's /etc. */
  etc: "/etc",
  /** A tmpfs, then the EPHEMERAL partition. */
  var: "/var",
  /** Where the sandbox provisioner binds the platform volume. */
  platformVolume: "/mnt",
} as const;

/** machined's own files and scratch mounts. */
export const machinedPaths = {
  apiSocket: "/run/machined/machined.sock",
  logDir: "/var/log",
  /** Upgrade bundles being received (on EPHEMERAL). */
  uploads: "/var/lib/kiln/upgrade",
  /** Image archives being received by ImageImport (on EPHEMERAL), removed once imported. */
  imageImports: "/var/lib/kiln/image-import",
  /** The installer's scratch directory. */
  installWork: "/run/kiln-install",
  kexecMount: "/run/kiln-kexec",
  espMount: "/run/kiln-esp",
  slotCheckMount: "/run/kiln-slot-check",
  /** mkdtemp's prefix for reading a boot slot. */
  slotScratch: "/run/kiln-slot-",
} as const;

/** Where machined puts apid's files (apid's defaults; machined passes them as flags). */
export const apidFiles = {
  tlsDir: "/run/apid/tls",
  machinedSocket: "/run/apid/machined.sock",
} as const;

/** Paths containerd uses on a kiln machine. */
export const containerdPaths = {
  config: "/etc/containerd/config.toml",
  socket: "/run/containerd/containerd.sock",
  root: "/var/lib/containerd",
  state: "/run/containerd",
  /** The registry hosts directory (CRI config_path): hosts.toml, CAs and client keys, on tmpfs, written at every start. */
  registryHosts: "/run/containerd/certs.d",
  cniBin: imagePaths.cniBin,
  cniConf: "/etc/cni/net.d",
  /**
   * kiln's pod network as a Go template (CRI conf_template, cluster.network.cni: kiln):
   * containerd renders it into cniConf once kubelet reports the node's podCIDR.
   */
  cniTemplate: "/etc/containerd/kiln-cni.conflist.tmpl",
} as const;

/** Paths kubelet uses on a kiln machine. */
export const kubeletPaths = {
  config: "/etc/kubernetes/kubelet.yaml",
  kubeconfig: "/etc/kubernetes/kubeconfig",
  bootstrapKubeconfig: "/etc/kubernetes/bootstrap-kubeconfig",
  ca: "/etc/kubernetes/pki/ca.crt",
  certDir: "/var/lib/kubelet/pki",
  /** The client certificate and key (one PEM) kubelet got through TLS bootstrap and keeps rotated. */
  clientCert: "/var/lib/kubelet/pki/kubelet-client-current.pem",
  staticPods: "/etc/kubernetes/manifests",
  rootDir: "/var/lib/kubelet",
} as const;

/** Paths kube-proxy uses on every node; its credential (a CSR-issued client certificate) lives on /var and outlasts a reboot. */
export const kubeProxyPaths = {
  config: "/etc/kubernetes/kube-proxy.yaml",
  kubeconfig: "/etc/kubernetes/kube-proxy.kubeconfig",
  cert: "/var/lib/kube-proxy/pki/client.crt",
  key: "/var/lib/kube-proxy/pki/client.key",
} as const;

/** Paths etcd uses on a control-plane machine. */
export const etcdPaths = {
  /** Its data (on EPHEMERAL): a member directory here means this node is part of a cluster. */
  dataDir: "/var/lib/etcd",
  /** Written by `kilnctl bootstrap` before etcd first starts: this node founds the cluster. */
  bootstrapMark: "/var/lib/kiln/etcd-bootstrap",
  /** Written when this node joined the cluster founded on another (services/etcd-join.ts). */
  joinMark: "/var/lib/kiln/etcd-join",
  /** Certificates issued at every start from cluster.etcd.ca (tmpfs). */
  pki: "/etc/kubernetes/pki/etcd",
  clientPort: 2379,
  peerPort: 2380,
  /** Plain HTTP on 127.0.0.1: /health and metrics, for machined's health check. */
  metricsPort: 2381,
} as const;

/** The control plane's certificates and kubeconfigs: the kubelet writes pki/ca.crt itself, so they have a directory of their own (tmpfs). */
const controlPlanePki = "/etc/kubernetes/pki/control-plane";

/** What the API server, controller manager and scheduler use on a control-plane machine. */
export const controlPlanePaths = {
  /** Certificates, keys (0600) and kubeconfigs, issued at every start from the config's CAs. */
  pki: controlPlanePki,
  /** machined's own kubeconfig (kiln:machined in system:masters; 0600): it creates the cluster's bootstrap resources with it. */
  adminKubeconfig: `${controlPlanePki}/admin.kubeconfig`,
  apiServerPort: 6443,
  /** The controller manager's and scheduler's HTTPS (self-signed), bound to 127.0.0.1: /healthz for machined. */
  controllerManagerPort: 10257,
  schedulerPort: 10259,
  /** The local etcd member the API server talks to, on 127.0.0.1. */
  etcdClientPort: etcdPaths.clientPort,
} as const;

/** cgroups under the cgroup root: every service in /system/<id> unless it names one here. */
export const cgroupPaths = {
  system: "/system",
  runtime: "/system/runtime",
  kubelet: "/system/kubelet",
  etcd: "/system/etcd",
  apiServer: "/system/kube-apiserver",
  controllerManager: "/system/kube-controller-manager",
  scheduler: "/system/kube-scheduler",
  apid: "/system/apid",
  extensions: "/system/extensions",
} as const;

/** Kernel files read in more than one place. */
export const kernelPaths = {
  /** The kernel command line: the boot slot, kiln.* options. */
  cmdline: "/proc/cmdline",
} as const;
