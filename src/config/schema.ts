// The machine config schema: the one source of truth for validation, the
// MachineConfig type, the JSON Schema and the reference in docs/.
import { z } from "zod";
import {
  absolutePath,
  certificatePem,
  certificateRef,
  peerEntry,
  cidr,
  network4,
  devicePath,
  envName,
  extensionServiceId,
  fileMode,
  hostname,
  hostOrIp,
  keyFits,
  httpsUrl,
  httpUrl,
  interfaceName,
  ipAddress,
  kubeletFlag,
  moduleName,
  privateKeyPem,
  quotedString,
  registryEndpoint,
  registryHost,
  registryServer,
  serviceId,
  sysctlName,
  token,
  writablePath,
} from "./formats.js";
import { isBindMount, mountOptionsProblem } from "./mount-options.js";

/** Attaches the description docs and editors show for a field. */
function doc<T extends z.ZodType>(schema: T, description: string): T {
  return schema.meta({ description });
}

const route = z.strictObject({
  network: doc(cidr, "Destination network, e.g. 0.0.0.0/0 for the default route."),
  gateway: doc(ipAddress, "Next hop."),
  metric: doc(z.int().min(0).max(4294967295), "Route priority; lower wins.").optional(),
});

const networkInterface = z.strictObject({
  name: doc(interfaceName, "Link name as the kernel knows it."),
  dhcp: doc(z.boolean(), "Configure the interface with DHCP.").default(false),
  addresses: doc(z.array(cidr), "Static addresses with their prefix length.").optional(),
  routes: doc(z.array(route), "Static routes through this interface.").optional(),
  mtu: doc(z.int().min(68).max(65535), "Link MTU in bytes.").optional(),
});

const hostEntry = z.strictObject({
  ip: doc(ipAddress, "The address the names resolve to."),
  aliases: doc(z.array(hostname).min(1).max(16), "Names for the address (1 to 16), e.g. registry.local."),
});

const network = z.strictObject({
  nameservers: doc(z.array(ipAddress), "DNS resolvers, in order of preference; written to /etc/resolv.conf.").optional(),
  extraHostEntries: doc(
    z.array(hostEntry).max(256),
    "Extra lines in /etc/hosts (at most 256), after localhost and the hostname; applied live. kiln writes /etc/hosts, so set them here rather than in machine.files.",
  ).optional(),
  interfaces: doc(z.array(networkInterface), "Interfaces to configure; others stay down.").optional(),
});

const kernelModule = z.strictObject({
  name: doc(moduleName, "Module to load at boot."),
  parameters: doc(z.array(z.string().min(1)), "Module parameters, e.g. max_loop=64.").optional(),
});

const kernel = z.strictObject({
  modules: doc(z.array(kernelModule), "Kernel modules to load at boot, in order.").optional(),
});

const machineFile = z.strictObject({
  path: doc(
    writablePath,
    "Where to write; must be under /etc or /var (the root is read-only), and not a file kiln writes itself: /etc/hosts (use machine.network.extraHostEntries), /etc/resolv.conf (machine.network.nameservers), /etc/hostname (machine.hostname), /etc/machine-id, and kubelet's and containerd's config files.",
  ),
  content: doc(z.string(), "File content, written as UTF-8."),
  permissions: doc(fileMode, `Mode bits: an integer (420) or an octal string ("0644").`).default(0o644),
  op: doc(
    z.enum(["create", "append", "overwrite"]),
    "create: write the file (replacing an earlier write); append: add to its end; overwrite: replace a file that must already exist (e.g. one from the image).",
  ).default("create"),
});

const extraMount = z
  .strictObject({
    source: doc(z.string().min(1), "What to mount: an absolute host path for a bind mount (made under /var if missing), else the filesystem's source (e.g. tmpfs)."),
    destination: doc(
      writablePath,
      "Where to mount it. kubelet runs in the machine's own mount namespace, so this is a host path; under /etc or /var (the root is read-only); made if missing.",
    ),
    type: doc(z.string().min(1), "Filesystem type; bind when omitted.").optional(),
    options: doc(
      z.array(z.string().min(1)),
      "Mount options: bind or rbind; ro, rw, nosuid, nodev, noexec, noatime, relatime; propagation shared, rshared, slave, rslave, private, rprivate (e.g. rshared for CSI drivers); for another type, its own key=value options (tmpfs size=1g).",
    ).optional(),
  })
  .superRefine((m, ctx) => {
    const problem = mountOptionsProblem(m.type, m.options ?? []);
    if (problem) ctx.addIssue({ code: "custom", path: ["options"], message: problem });
    if (isBindMount(m.type, m.options ?? []) && !absolutePath.safeParse(m.source).success) {
      ctx.addIssue({ code: "custom", path: ["source"], message: `a bind mount's source must be an absolute, normalised host path such as /var/lib/data, got "${m.source}"` });
    }
  });

const kubelet = z.strictObject({
  extraArgs: doc(z.record(kubeletFlag, quotedString), "Extra kubelet flags, without the leading --.").optional(),
  nodeIP: doc(
    z.strictObject({
      validSubnets: doc(z.array(cidr), "Subnets the node IP is chosen from."),
    }),
    "How kubelet picks the node's IP.",
  ).optional(),
  clusterDNS: doc(z.array(ipAddress), "DNS servers for pods.").optional(),
  extraMounts: doc(z.array(extraMount), "Mounts machined makes before kubelet first starts, in order (local volumes, shared propagation for CSI drivers). They stay until the next boot.").optional(),
});

/** An image to install needs a disk to install it to: kiln never picks one itself. */
function diskForImage(install: { disk?: string | undefined; image?: string | undefined }, ctx: z.RefinementCtx): void {
  if (install.image === undefined || install.disk !== undefined) return;
  ctx.addIssue({ code: "custom", path: ["disk"], message: "expected the disk to install machine.install.image to (e.g. /dev/vda), got none: kiln never picks a disk itself" });
}

const install = z.strictObject({
  disk: doc(
    devicePath,
    "Disk to install to, e.g. /dev/vda (required for installing; kiln never picks one itself). A machine booted from kernel+initramfs or install media installs itself there and reboots into it; the disk must be blank or kiln's unless wipe is true.",
  ).optional(),
  wipe: doc(z.boolean(), "Erase whatever the disk holds (a file system or partition table kiln did not make) before installing.").default(false),
  image: doc(
    httpUrl,
    "http(s) URL of the kiln-upgrade.tar to install (kilnctl image build writes it); without it, the install media attached to the machine is used.",
  ).optional(),
}).superRefine(diskForImage);

const certificateAuthority = z.strictObject({
  crt: doc(certificatePem, "CA certificate."),
  key: doc(privateKeyPem, "CA private key (secret). Omitted on machines that only verify.").optional(),
});

/** Exactly one way to check health; the count is checked here, the keys by the object. */
function exactlyOneCheck(health: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const given = Object.keys(health).filter((k) => health[k] !== undefined);
  if (given.length === 1) return;
  const got = given.length === 0 ? "none" : given.join(" and ");
  ctx.addIssue({ code: "custom", message: `expected exactly one of exec, http, unixSocket, got ${got}` });
}

const healthCheck = z
  .strictObject({
    exec: doc(z.tuple([absolutePath], z.string()), "Command whose zero exit means healthy: argv, argv[0] absolute.").optional(),
    http: doc(httpUrl, "URL that answers 2xx when healthy.").optional(),
    unixSocket: doc(absolutePath, "Unix socket that accepts a connection when healthy.").optional(),
  })
  .superRefine(exactlyOneCheck)
  .meta({ minProperties: 1, maxProperties: 1 });

const extensionService = z.strictObject({
  id: doc(extensionServiceId, "Service id; not one of containerd, kubelet, apid, machined."),
  command: doc(
    z.tuple([absolutePath], z.string()),
    "argv: an absolute executable path, then its arguments.",
  ),
  env: doc(z.record(envName, quotedString), "Environment variables, added to machine.env.").optional(),
  dependsOn: doc(z.array(serviceId), "Services (built-in or extension) that must run first.").optional(),
  restart: doc(
    z.enum(["forever", "once", "until-success"]),
    "forever: always restart; once: never; until-success: after a non-zero exit.",
  ).default("forever"),
  health: doc(healthCheck, "How machined checks health; exactly one of exec, http, unixSocket.").optional(),
  oomScoreAdj: doc(z.int().min(-1000).max(1000), "OOM killer score adjustment.").optional(),
  stopGraceMs: doc(z.int().min(0).max(3600000), "TERM to KILL grace period in milliseconds; 10000 when omitted.").optional(),
});

const registryMirror = z.strictObject({
  registry: doc(registryHost, "The registry image names refer to, e.g. docker.io or registry.k8s.io."),
  endpoints: doc(
    z.array(registryEndpoint).min(1).max(16),
    "Where to pull its images from instead, tried in order (pull and resolve only), then the registry itself, e.g. https://mirror.local:5000. A path is kept: /v2 is appended to it.",
  ),
});

/** Both halves of a pair, or neither: "clientCert and clientKey go together". */
function bothOrNeither(a: string, b: string, why: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const [hasA, hasB] = [value[a] !== undefined, value[b] !== undefined];
    if (hasA === hasB) return;
    const [set, missing] = hasA ? [a, b] : [b, a];
    ctx.addIssue({ code: "custom", path: [missing], message: `required when ${set} is set; ${why}` });
  };
}

/** A CA is never used when verification is off: refuse it rather than ignore it. */
function caWithoutSkip(tls: { ca?: string | undefined; insecureSkipVerify?: boolean | undefined }, ctx: z.RefinementCtx): void {
  if (tls.ca === undefined || tls.insecureSkipVerify !== true) return;
  ctx.addIssue({ code: "custom", path: ["insecureSkipVerify"], message: "true would leave ca unused (nothing is verified); remove one of them" });
}

/** The client key must be the certificate's own (both parse by now). */
function clientKeyFits(tls: { clientCert?: string | undefined; clientKey?: string | undefined }, ctx: z.RefinementCtx): void {
  if (tls.clientCert === undefined || tls.clientKey === undefined || keyFits(tls.clientCert, tls.clientKey)) return;
  ctx.addIssue({ code: "custom", path: ["clientKey"], message: "does not belong to clientCert; expected the client certificate's private key" });
}

const registryTls = z
  .strictObject({
    ca: doc(certificatePem, "The CA that signed the registry's certificate, trusted for this host besides the system's.").optional(),
    clientCert: doc(certificatePem, "A client certificate to present (mutual TLS); clientKey must be set with it.").optional(),
    clientKey: doc(privateKeyPem, "The client certificate's private key (secret).").optional(),
    insecureSkipVerify: doc(z.boolean(), "Accept any certificate the registry presents (no verification). For tests only.").optional(),
  })
  .superRefine(bothOrNeither("clientCert", "clientKey", "a client certificate needs its private key"))
  .superRefine(caWithoutSkip)
  .superRefine(clientKeyFits);

/** A registry login is a username and password or an identity token, never both. */
function oneLogin(auth: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (auth.identityToken === undefined || (auth.username === undefined && auth.password === undefined)) return;
  ctx.addIssue({ code: "custom", path: ["identityToken"], message: "set either username and password or identityToken, not both (containerd would use only the username)" });
}

const registryAuth = z
  .strictObject({
    username: doc(z.string().min(1), "User name for HTTP basic or token authentication; password must be set with it.").optional(),
    password: doc(z.string().min(1), "The user's password (secret).").optional(),
    identityToken: doc(
      z.string().min(1),
      "An identity (OAuth refresh) token, as `docker login` stores for registries that issue one (secret); containerd exchanges it at the registry's token service. Not a bearer token.",
    ).optional(),
  })
  .superRefine(bothOrNeither("username", "password", "a registry login needs both"))
  .superRefine(oneLogin);

const registryHostConfig = z.strictObject({
  host: doc(registryHost, "The registry or mirror host, with its port if its URLs have one, e.g. mirror.local:5000; docker.io stands for its server, registry-1.docker.io."),
  tls: doc(registryTls, "TLS towards this host: when it is pulled from directly, and when it serves as a mirror endpoint over https.").optional(),
  auth: doc(registryAuth, "Credentials kubelet's image pulls (the CRI) present to this host; ctr and machined's own imports do not use them.").optional(),
});

/** Each of `values` (entry i's `field`) that repeats an earlier one, as `key` sees them, is an error at its entry. */
function uniqueBy(values: readonly string[] | undefined, field: string, at: string, ctx: z.RefinementCtx, key = (v: string) => v): void {
  const seen = new Map<string, number>();
  for (const [i, value] of (values ?? []).entries()) {
    const first = seen.get(key(value));
    if (first === undefined) {
      seen.set(key(value), i);
      continue;
    }
    const same = values?.[first] === value ? "" : ` (docker.io is served by ${key(value)})`;
    ctx.addIssue({ code: "custom", path: [at, i, field], message: `${JSON.stringify(value)} is also at machine.registries.${at}[${first}]${same}; merge the two entries` });
  }
}

const registries = z
  .strictObject({
    mirrors: doc(z.array(registryMirror), "Mirrors to pull a registry's images from, one entry a registry.").optional(),
    hosts: doc(z.array(registryHostConfig), "TLS and credentials per registry or mirror host, one entry a host.").optional(),
  })
  .superRefine((r, ctx) => {
    uniqueBy(r.mirrors?.map((m) => m.registry), "registry", "mirrors", ctx);
    uniqueBy(r.hosts?.map((h) => h.host), "host", "hosts", ctx, registryServer);
  });

const machine = z.strictObject({
  type: doc(
    z.enum(["worker", "controlplane"]),
    "The machine's role in the cluster. Every machine runs kubelet; a controlplane also runs etcd and the Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler) as kiln services, once `kilnctl bootstrap` founded the cluster on it or it joined the cluster's etcd by itself; their certificates are issued at each start from cluster.ca, cluster.etcd.ca and cluster.frontProxy.ca, with cluster.serviceAccount.key. Takes effect at the next boot.",
  ),
  hostname: doc(
    hostname,
    "Hostname. When omitted (and DHCP names none): kiln- and the MAC address of the first network link with a device, e.g. kiln-525400123456, so it survives reboots without a disk; kiln- and the first 6 digits of the machine id where no link has a device (the sandbox).",
  ).optional(),
  network: doc(network, "Network configuration.").optional(),
  sysctls: doc(z.record(sysctlName, quotedString), "Kernel parameters; values are strings.").optional(),
  kernel: doc(kernel, "Kernel configuration.").optional(),
  files: doc(z.array(machineFile), "Files to write at boot and on apply.").optional(),
  env: doc(z.record(envName, quotedString), "Environment variables for every service.").optional(),
  time: doc(
    z.strictObject({ servers: doc(z.array(hostOrIp), "NTP servers.") }),
    "Time synchronisation.",
  ).optional(),
  kubelet: doc(kubelet, "Kubelet settings.").optional(),
  install: doc(install, "Installing kiln to a disk (see docs/install.md).").optional(),
  ca: doc(certificateAuthority, "The machine CA, which signs the machine API's certificates. With its key apid issues its own certificate (kilnctl gen config writes the key into controlplane.yaml only); without it apid asks a control plane for one with machine.token at cluster.controlPlane.endpoint's host, port 50001, and with neither apid does not run (Skipped) and only the local socket answers.").optional(),
  token: doc(token, "The machine token (secret): a machine without machine.ca's key presents it to a control plane's trust port (50001) for apid's server certificate, and a control plane with the key signs for the machines that present the same token. The certificate carries no role: it serves the API, never calls it.").optional(),
  certSANs: doc(z.array(hostOrIp), "Extra names and addresses in the machine API's certificate, and on a control plane in the API server's.").optional(),
  api: doc(
    z.strictObject({
      deniedCertificates: doc(
        z.array(certificateRef).max(10_000),
        "Client certificates the machine API no longer accepts (revoked), each by its SHA-256 fingerprint or serial number (hex, colons allowed; `openssl x509 -noout -fingerprint -sha256 -serial`). apid refuses every call made with one (PERMISSION_DENIED), from the next call on: applied live. Give every machine the same list: a call fanned out to other nodes is checked by the apid the client connected to.",
      ).optional(),
      peers: doc(
        z.array(peerEntry).max(1024),
        "The other machines this apid may forward a call to (`kilnctl -n NODE`, metadata `nodes`): addresses or host names (apid's port 50000), `address:port`, `[v6]:port`, or networks in CIDR form (port 50000 on any address in them). Names match as written and are not resolved to check. Any other node is refused (PERMISSION_DENIED) before any is called, so a caller cannot make apid dial elsewhere. Unset: the networks of this machine's own addresses (its links). An empty list: no fan-out. Applied live.",
      ).optional(),
    }),
    "The machine API (apid).",
  ).optional(),
  services: doc(z.array(extensionService), "Extension services machined runs itself.").optional(),
  registries: doc(
    registries,
    "Image registries for containerd: mirrors, and TLS and credentials per host. Written to containerd's hosts directory and config at its start; a change restarts containerd.",
  ).optional(),
});

const cluster = z.strictObject({
  name: doc(z.string().min(1), "Cluster name.").optional(),
  controlPlane: doc(
    z.strictObject({ endpoint: doc(httpsUrl, "URL of the Kubernetes API server (a load balancer or VIP); the server of the kubeconfigs `kilnctl kubeconfig` issues.") }),
    "How to reach the control plane.",
  ).optional(),
  ca: doc(certificateAuthority, "The Kubernetes CA. kilnctl gen config writes its key into controlplane.yaml only; with it a control plane issues admin kubeconfigs (`kilnctl kubeconfig`).").optional(),
  token: doc(token, "Bootstrap token kubelets join with (secret).").optional(),
  network: doc(
    z.strictObject({
      podSubnets: doc(
        z
          .array(network4.refine((c) => Number(c.split("/")[1]) <= 23, { message: "is too small: each node takes a /24 from it, so give /23 or wider (e.g. 10.244.0.0/16)" }))
          .min(1)
          .refine((list) => list.length <= 1, { message: "one pod subnet: kiln runs single-stack IPv4 clusters in this version" }),
        "The pods' network, from which the controller manager gives each node its pod CIDR (a /24 each). Default 10.244.0.0/16. One IPv4 network.",
      ).optional(),
      serviceSubnets: doc(
        z
          .array(network4.refine((c) => Number(c.split("/")[1]) >= 12 && Number(c.split("/")[1]) <= 28, { message: "must be between /12 and /28: the API server takes at most 2^20 service addresses, and the tenth is cluster DNS" }))
          .min(1)
          .refine((list) => list.length <= 1, { message: "one service subnet: kiln runs single-stack IPv4 clusters in this version" }),
        "The Services' virtual IPs (the API server's ClusterIP is its first address, cluster DNS its tenth). Default 10.96.0.0/12. One IPv4 network.",
      ).optional(),
      cni: doc(
        z.enum(["kiln", "none"]),
        "The pod network. `kiln` (the default): kiln writes a bridge, host-local, portmap and loopback CNI config for the node's pod CIDR and routes every other node's pod CIDR through that node's address (no overlay, no DaemonSet). `none`: no CNI config is written; install your own CNI.",
      ).optional(),
    }),
    "The cluster's pod and service networks and its pod network plugin. All control planes and workers of a cluster must agree.",
  ).optional(),
  serviceAccount: doc(
    z.strictObject({ key: doc(privateKeyPem, "The key that signs service-account tokens (secret); the API server verifies them with its public half. kilnctl gen config writes it into controlplane.yaml only.") }),
    "Service-account token signing. Only control planes may hold it: a worker config with cluster.serviceAccount is refused.",
  ).optional(),
  frontProxy: doc(
    z.strictObject({ ca: doc(certificateAuthority, "The front-proxy CA: it signs the API server's client certificate toward aggregated API servers. kilnctl gen config writes it into controlplane.yaml only.") }),
    "The API aggregation layer's CA. Only control planes may hold it: a worker config with cluster.frontProxy is refused.",
  ).optional(),
  etcd: doc(
    z.strictObject({ ca: doc(certificateAuthority, "The etcd CA: it signs etcd's server and peer certificates and its clients' (the API server's). kilnctl gen config writes it, with its key, into controlplane.yaml only.") }),
    "etcd, which control-plane machines run (after `kilnctl bootstrap` on one of them). Only control planes may hold it: a worker config with cluster.etcd is refused.",
  ).optional(),
});

/** A whole machine config document. */
export const machineConfigSchema = z
  .strictObject({
    apiVersion: doc(z.literal("kiln/v1alpha1"), "Config format version."),
    kind: doc(z.literal("MachineConfig"), "Document kind."),
    machine: doc(machine, "This machine."),
    cluster: doc(cluster, "The Kubernetes cluster the machine belongs to.").optional(),
  })
  .meta({ title: "kiln MachineConfig", description: "The configuration of one kiln machine." });

/** A validated machine config, defaults filled in. */
export type MachineConfig = z.output<typeof machineConfigSchema>;
/** A machine config as written, before defaults. */
export type MachineConfigInput = z.input<typeof machineConfigSchema>;
export type ExtensionService = z.output<typeof extensionService>;
export type HealthCheckConfig = z.output<typeof healthCheck>;
export type MachineFile = z.output<typeof machineFile>;
export type NetworkInterface = z.output<typeof networkInterface>;
export type HostEntry = z.output<typeof hostEntry>;
export type KernelModule = z.output<typeof kernelModule>;
export type CertificateAuthority = z.output<typeof certificateAuthority>;
export type RegistriesConfig = z.output<typeof registries>;
export type RegistryHostConfig = z.output<typeof registryHostConfig>;
