import t from "tap";
import { exampleConfigYaml } from "../../src/config/example.js";
import { parseConfig } from "../../src/config/parse.js";
import { configOf, header, service, strangerKey, testCa, worker, yamlDoc } from "./fixtures.js";

interface Case {
  name: string;
  yaml: string;
  errors: string[];
  warnings?: string[];
}

const longLabel = "a".repeat(64);
const cidrExpected = "a CIDR such as 10.0.0.2/24 or fd00::2/64";
const ipExpected = "an IP address such as 10.0.0.1 or fd00::1";
const hostExpected = "a hostname or IP address such as pool.ntp.org or 10.0.0.1";
const pathExpected = `an absolute, normalised path such as /var/lib/data (no "..", ".", "//" or trailing "/")`;
const stringExpected = `a string (quote numbers and booleans, as in "1")`;
const tokenExpected = "a token such as abcdef.0123456789abcdef (6 and 16 characters a-z, 0-9, joined by '.')";
/** What a control plane without the etcd CA, the cluster CA's key, the service-account key and the front-proxy CA is told: it runs neither etcd nor the rest of the control plane. */
const controlPlane = [
  "cluster.etcd.ca: not set (with its key); a controlplane machine runs etcd only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.serviceAccount.key: not set; a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
  "cluster.frontProxy.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
];
const hostnameExpected =
  "a lowercase RFC 1123 hostname such as node-1 or node-1.example.com (labels of 1-63 characters a-z, 0-9 and '-', 253 in all)";

const bad: Case[] = [
  // Document shape.
  {
    name: "rejects an empty document",
    yaml: "",
    errors: ["the document is empty; expected a map with apiVersion: kiln/v1alpha1, kind: MachineConfig and machine"],
  },
  {
    name: "rejects a document of comments only",
    yaml: "# nothing here\n",
    errors: ["the document is empty; expected a map with apiVersion: kiln/v1alpha1, kind: MachineConfig and machine"],
  },
  {
    name: "rejects a YAML list instead of a map",
    yaml: "- apiVersion: kiln/v1alpha1\n",
    errors: ["expected a map at the top level (apiVersion, kind, machine, cluster), got a list"],
  },
  {
    name: "rejects a lone string",
    yaml: "hello\n",
    errors: [`expected a map at the top level (apiVersion, kind, machine, cluster), got "hello"`],
  },
  {
    name: "rejects several documents",
    yaml: `${header}machine: {type: worker}\n---\n${header}machine: {type: worker}\n`,
    errors: [`expected one YAML document, got 2 (separated by "---")`],
  },
  {
    name: "reports a YAML syntax error with its line and column",
    yaml: `${header}machine:\n  certSANs: [a, b\n  type: worker\n`,
    errors: [
      "YAML syntax error at line 5, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
  },
  {
    name: "reports a duplicate key with its line and column",
    yaml: `${header}machine:\n  type: worker\n  type: controlplane\n`,
    errors: ["YAML syntax error at line 5, column 3: Map keys must be unique"],
  },
  // Header.
  {
    name: "rejects a wrong apiVersion",
    yaml: "apiVersion: v1\nkind: MachineConfig\nmachine: {type: worker}\n",
    errors: [`apiVersion: expected "kiln/v1alpha1", got "v1"`],
  },
  {
    name: "requires kind and machine",
    yaml: "apiVersion: kiln/v1alpha1\n",
    errors: [`kind: required, expected "MachineConfig"`, "machine: required, expected a map"],
  },
  {
    name: "rejects an empty machine section",
    yaml: `${header}machine:\n`,
    errors: ["machine: expected a map, got null"],
  },
  // Unknown keys.
  {
    name: "suggests the nearest key for a misspelt one",
    yaml: worker({ hostnme: "node-1" }),
    errors: [`machine.hostnme: unknown key; did you mean "hostname"?`],
  },
  {
    name: "suggests a key written in another case or with underscores",
    yaml: worker({ cert_sans: ["a.example.com"] }),
    errors: [`machine.cert_sans: unknown key; did you mean "certSANs"?`],
  },
  {
    name: "lists the allowed keys when no key is close",
    yaml: yamlDoc({ machine: { type: "worker" }, metadata: {} }),
    errors: ["metadata: unknown key; expected one of apiVersion, kind, machine, cluster"],
  },
  {
    name: "reports every unknown key of a map",
    yaml: worker({ network: { nameserver: ["1.1.1.1"], interface: [] } }),
    errors: [
      `machine.network.nameserver: unknown key; did you mean "nameservers"?`,
      `machine.network.interface: unknown key; did you mean "interfaces"?`,
    ],
  },
  // machine.type and hostname.
  {
    name: "requires machine.type",
    yaml: yamlDoc({ machine: { hostname: "node-1" } }),
    errors: ["machine.type: required, expected one of worker, controlplane"],
  },
  {
    name: "rejects an unknown machine type",
    yaml: yamlDoc({ machine: { type: "master" } }),
    errors: [`machine.type: expected one of worker, controlplane, got "master"`],
  },
  {
    name: "rejects a hostname with capitals and underscores",
    yaml: worker({ hostname: "Node_1" }),
    errors: [`machine.hostname: expected ${hostnameExpected}, got "Node_1"`],
  },
  {
    name: "rejects a hostname label over 63 characters",
    yaml: worker({ hostname: `${longLabel}.example.com` }),
    errors: [`machine.hostname: expected ${hostnameExpected}, got "${longLabel.slice(0, 57)}..."`],
  },
  {
    name: "rejects a hostname over 253 characters",
    yaml: worker({ hostname: Array(26).fill("abcdefghi").join(".") }),
    errors: [`machine.hostname: expected ${hostnameExpected}, got "${"abcdefghi.".repeat(6).slice(0, 57)}..."`],
  },
  // Network.
  {
    name: "rejects an address with an octet over 255 and one that is not a string",
    yaml: worker({ network: { interfaces: [{ name: "eth0", addresses: ["10.0.0.2/24", "10.0.0.300/24", 5] }] } }),
    errors: [
      `machine.network.interfaces[0].addresses[1]: expected ${cidrExpected}, got "10.0.0.300/24"`,
      `machine.network.interfaces[0].addresses[2]: expected ${cidrExpected}, got 5`,
    ],
  },
  {
    name: "rejects an address without a prefix length",
    yaml: worker({ network: { interfaces: [{ name: "eth0", addresses: ["fd00::2"] }] } }),
    errors: [`machine.network.interfaces[0].addresses[0]: expected ${cidrExpected}, got "fd00::2"`],
  },
  {
    name: "rejects a bad route gateway and metric",
    yaml: worker({
      network: { interfaces: [{ name: "eth0", routes: [{ network: "0.0.0.0/0", gateway: "router", metric: -1 }] }] },
    }),
    errors: [
      `machine.network.interfaces[0].routes[0].gateway: expected ${ipExpected}, got "router"`,
      "machine.network.interfaces[0].routes[0].metric: expected an integer from 0 to 4294967295, got -1",
    ],
  },
  {
    name: "rejects an MTU out of range and a route without its network",
    yaml: worker({ network: { interfaces: [{ name: "eth0", mtu: 9000000, routes: [{ gateway: "10.0.0.1" }] }] } }),
    errors: [
      `machine.network.interfaces[0].routes[0].network: required, expected ${cidrExpected}`,
      "machine.network.interfaces[0].mtu: expected an integer from 68 to 65535, got 9000000",
    ],
  },
  {
    name: "rejects a number written with a leading zero instead of guessing",
    yaml: `${header}machine:\n  type: worker\n  network:\n    interfaces:\n      - name: eth0\n        mtu: 01500\n`,
    errors: [`machine.network.interfaces[0].mtu: expected an integer from 68 to 65535, got "01500"`],
  },
  {
    name: "rejects an interface name with a slash and a nameserver that is a name",
    yaml: worker({ network: { nameservers: ["dns.example.com"], interfaces: [{ name: "eth/0", dhcp: "yes" }] } }),
    errors: [
      `machine.network.nameservers[0]: expected ${ipExpected}, got "dns.example.com"`,
      `machine.network.interfaces[0].name: expected an interface name such as eth0 (1-15 characters a-z, A-Z, 0-9, '_', '.' and '-'), got "eth/0"`,
      `machine.network.interfaces[0].dhcp: expected true or false, got "yes"`,
    ],
  },
  // Sysctls and env.
  {
    name: "requires sysctl values to be strings and keys to be sysctl names",
    yaml: worker({ sysctls: { "net.ipv4.ip_forward": 1, "Bad Key": "1" } }),
    errors: [
      `machine.sysctls["net.ipv4.ip_forward"]: expected ${stringExpected}, got 1`,
      `machine.sysctls["Bad Key"]: "Bad Key" is not a valid key; expected a sysctl name such as net.ipv4.ip_forward (a-z, 0-9, '_', '-', '.' and '/')`,
    ],
  },
  {
    name: "requires environment names to be identifiers and values strings",
    yaml: worker({ env: { "1FOO": "x", DEBUG: true } }),
    errors: [
      `machine.env["1FOO"]: "1FOO" is not a valid key; expected an environment variable name such as HTTP_PROXY ([A-Za-z_][A-Za-z0-9_]*)`,
      `machine.env.DEBUG: expected ${stringExpected}, got true`,
    ],
  },
  // Files.
  {
    name: "rejects a relative file path",
    yaml: worker({ files: [{ path: "etc/motd", content: "hi" }] }),
    errors: [`machine.files[0].path: expected an absolute path under /etc or /var, got "etc/motd"`],
  },
  {
    name: "rejects a file path that is not normalised",
    yaml: worker({ files: [{ path: "/etc/../usr/x", content: "" }, { path: "/etc//motd", content: "" }] }),
    errors: [
      `machine.files[0].path: expected a normalised path (no "..", ".", "//" or trailing "/"), got "/etc/../usr/x"`,
      `machine.files[1].path: expected a normalised path (no "..", ".", "//" or trailing "/"), got "/etc//motd"`,
    ],
  },
  {
    name: "quotes a long file path cut to 60 characters, never whole (the fuzz tier found 250 KB repeated)",
    yaml: worker({ files: [{ path: `c${"y".repeat(250_000)}`, content: "" }, { path: `/usr/${"z".repeat(100)}`, content: "" }] }),
    errors: [
      `machine.files[0].path: expected an absolute path under /etc or /var, got "c${"y".repeat(56)}..."`,
      `machine.files[1].path: "/usr/${"z".repeat(52)}..." is on the read-only root; files may be written only under /etc or /var`,
    ],
  },
  {
    name: "rejects a file on the read-only root",
    yaml: worker({ files: [{ path: "/usr/bin/x", content: "" }, { path: "/etc", content: "" }] }),
    errors: [
      `machine.files[0].path: "/usr/bin/x" is on the read-only root; files may be written only under /etc or /var`,
      `machine.files[1].path: "/etc" is on the read-only root; files may be written only under /etc or /var`,
    ],
  },
  {
    name: "refuses files kiln writes itself, naming the field to use instead",
    yaml: worker({
      files: [
        { path: "/etc/motd", content: "" },
        { path: "/etc/resolv.conf", content: "" },
        { path: "/etc/hosts", content: "", op: "append" },
        { path: "/etc/hostname", content: "" },
        { path: "/etc/machine-id", content: "" },
        { path: "/etc/kubernetes/kubelet.yaml", content: "" },
        { path: "/etc/containerd/config.toml", content: "" },
      ],
    }),
    errors: [
      "machine.files[1].path: /etc/resolv.conf is written by kiln; use machine.network.nameservers instead",
      "machine.files[2].path: /etc/hosts is written by kiln; use machine.network.extraHostEntries instead",
      "machine.files[3].path: /etc/hostname is written by kiln; use machine.hostname instead",
      "machine.files[4].path: /etc/machine-id is written by kiln; it is the machine's identity, kept on STATE or derived from the hardware",
      "machine.files[5].path: /etc/kubernetes/kubelet.yaml is written by kiln; use machine.kubelet (extraArgs, clusterDNS, nodeIP) instead",
      "machine.files[6].path: /etc/containerd/config.toml is written by kiln; there is no field for containerd's config yet",
    ],
  },
  {
    name: "rejects host entries with a bad address, bad names or none",
    yaml: worker({
      network: {
        extraHostEntries: [
          { ip: "10.0.0.300", aliases: ["registry"] },
          { ip: "10.0.0.5", aliases: ["Registry_1"] },
          { ip: "fd00::5", aliases: [] },
          { ip: "10.0.0.6", aliases: Array.from({ length: 17 }, (_, i) => `n${i}`) },
        ],
      },
    }),
    errors: [
      `machine.network.extraHostEntries[0].ip: expected ${ipExpected}, got "10.0.0.300"`,
      `machine.network.extraHostEntries[1].aliases[0]: expected ${hostnameExpected}, got "Registry_1"`,
      "machine.network.extraHostEntries[2].aliases: expected a list of 1 to 16 items, got an empty list",
      "machine.network.extraHostEntries[3].aliases: expected a list of 1 to 16 items, got a list",
    ],
  },
  {
    name: "rejects bad modes, ops and content",
    yaml: worker({
      files: [
        { path: "/etc/a", content: "", permissions: "0999" },
        { path: "/etc/b", content: "", permissions: 99999, op: "replace" },
        { path: "/etc/c", content: 5 },
      ],
    }),
    errors: [
      `machine.files[0].permissions: expected a file mode such as 420 or "0644" (an integer, or octal digits in a string), got "0999"`,
      `machine.files[1].permissions: expected a file mode such as 420 or "0644" (an integer, or octal digits in a string), got 99999`,
      `machine.files[1].op: expected one of create, append, overwrite, got "replace"`,
      "machine.files[2].content: expected a string, got 5",
    ],
  },
  // Kernel, time, kubelet, install.
  {
    name: "rejects a kernel module name with a space",
    yaml: worker({ kernel: { modules: [{ name: "br netfilter", parameters: [""] }] } }),
    errors: [
      `machine.kernel.modules[0].name: expected a kernel module name such as br_netfilter, got "br netfilter"`,
      `machine.kernel.modules[0].parameters[0]: expected a non-empty string, got "******"`,
    ],
  },
  {
    name: "rejects time servers and SANs that are neither names nor addresses",
    yaml: worker({ time: { servers: ["-ntp"] }, certSANs: ["10.0.0.300", "ok.example.com"] }),
    errors: [
      `machine.time.servers[0]: expected ${hostExpected}, got "-ntp"`,
      `machine.certSANs[0]: expected ${hostExpected}, got "10.0.0.300"`,
    ],
  },
  {
    name: "rejects bad kubelet settings",
    yaml: worker({
      kubelet: {
        extraArgs: { "--max-pods": "110" },
        nodeIP: { validSubnets: "10.0.0.0/24" },
        clusterDNS: ["10.96.0.300"],
        extraMounts: [{ source: "/var/lib/x", destination: "var/lib/x" }],
      },
    }),
    errors: [
      `machine.kubelet.extraArgs["--max-pods"]: "--max-pods" is not a valid key; expected a kubelet flag name without "--", such as max-pods`,
      `machine.kubelet.nodeIP.validSubnets: expected a list, got "10.0.0.0/24"`,
      `machine.kubelet.clusterDNS[0]: expected ${ipExpected}, got "10.96.0.300"`,
      `machine.kubelet.extraMounts[0].destination: expected an absolute path under /etc or /var, got "var/lib/x"`,
    ],
  },
  {
    name: "rejects an install disk outside /dev and a wipe that is not a boolean",
    yaml: worker({ install: { disk: "sda", wipe: "yes" } }),
    errors: [
      `machine.install.disk: expected a device path such as /dev/sda or /dev/disk/by-id/ata-disk0, got "sda"`,
      `machine.install.wipe: expected true or false, got "yes"`,
    ],
  },
  // CA and tokens.
  {
    name: "rejects a CA certificate that is not base64 PEM and a key that is a certificate",
    yaml: worker({ ca: { crt: "-----BEGIN CERTIFICATE-----", key: testCa.crt } }),
    errors: [
      `machine.ca.crt: expected a base64-encoded PEM certificate (-----BEGIN CERTIFICATE-----), got "-----BEGIN CERTIFICATE-----"`,
      `machine.ca.key: expected a base64-encoded PEM private key (-----BEGIN PRIVATE KEY-----), got "******"`,
    ],
  },
  {
    name: "rejects a CA key that does not belong to the certificate",
    yaml: worker({}, { cluster: { ca: { crt: testCa.crt, key: strangerKey } } }),
    errors: ["cluster.ca.key: does not belong to cluster.ca.crt; expected the certificate's private key"],
  },
  {
    name: "rejects malformed tokens",
    yaml: worker({ token: "abc" }, { cluster: { token: "ABCDEF.0123456789abcdef" } }),
    errors: [
      `machine.token: expected ${tokenExpected}, got "******"`,
      `cluster.token: expected ${tokenExpected}, got "******"`,
    ],
  },
  {
    name: "requires an https control plane endpoint",
    yaml: worker({}, { cluster: { name: "", controlPlane: { endpoint: "http://10.0.0.10:6443" } } }),
    errors: [
      `cluster.name: expected a non-empty string, got ""`,
      `cluster.controlPlane.endpoint: expected an https:// URL such as https://10.0.0.10:6443, got "http://10.0.0.10:6443"`,
    ],
  },
  // Extension services.
  {
    name: "rejects an extension service that takes a built-in id or an invalid one",
    yaml: worker({ services: [service("kubelet"), service("Web")] }),
    errors: [
      `machine.services[0].id: "kubelet" is a built-in service (containerd, kubelet, apid, machined); choose another id`,
      `machine.services[1].id: expected a service id such as web (1-63 characters a-z, 0-9 and '-'), got "Web"`,
    ],
  },
  {
    name: "requires a command whose argv[0] is absolute",
    yaml: worker({ services: [service("a", { command: ["node", "x.js"] }), service("b", { command: [] })] }),
    errors: [
      `machine.services[0].command[0]: expected ${pathExpected}, got "******"`,
      `machine.services[1].command[0]: required, expected ${pathExpected}`,
    ],
  },
  {
    name: "rejects a bad restart policy, OOM score and grace period",
    yaml: worker({ services: [service("web", { restart: "always", oomScoreAdj: 2000, stopGraceMs: -1 })] }),
    errors: [
      `machine.services[0].restart: expected one of forever, once, until-success, got "always"`,
      "machine.services[0].oomScoreAdj: expected an integer from -1000 to 1000, got 2000",
      "machine.services[0].stopGraceMs: expected an integer from 0 to 3600000, got -1",
    ],
  },
  {
    name: "requires exactly one health check",
    yaml: worker({
      services: [
        service("a", { health: {} }),
        service("b", { health: { exec: ["/bin/true"], http: "http://127.0.0.1/" } }),
        service("c", { health: { http: "ftp://x/", tcp: 80 } }),
        service("d", { health: { unixSocket: "run/d.sock" } }),
      ],
    }),
    errors: [
      "machine.services[0].health: expected exactly one of exec, http, unixSocket, got none",
      "machine.services[1].health: expected exactly one of exec, http, unixSocket, got exec and http",
      `machine.services[2].health.http: expected an http:// or https:// URL such as http://127.0.0.1:8080/healthz, got "ftp://x/"`,
      "machine.services[2].health.tcp: unknown key; expected one of exec, http, unixSocket",
      `machine.services[3].health.unixSocket: expected ${pathExpected}, got "run/d.sock"`,
    ],
  },
  {
    name: "rejects two extension services with one id",
    yaml: worker({ services: [service("web"), service("web")] }),
    errors: [`machine.services[1].id: duplicate service id "web", also at machine.services[0]`],
  },
  {
    name: "rejects a dependency on an unknown service, suggesting a near one",
    yaml: worker({ services: [service("db"), service("web", { dependsOn: ["dbb", "redis"] })] }),
    errors: [
      `machine.services[1].dependsOn[0]: unknown service "dbb"; did you mean "db"?`,
      `machine.services[1].dependsOn[1]: unknown service "redis"; expected one of db, web, containerd, kubelet, apid, machined`,
    ],
  },
  {
    name: "rejects a dependency cycle among extension services",
    yaml: worker({
      services: [
        service("a", { dependsOn: ["b"] }),
        service("b", { dependsOn: ["c", "containerd"] }),
        service("c", { dependsOn: ["a"] }),
        service("d", { dependsOn: ["d"] }),
      ],
    }),
    errors: ["machine.services: dependency cycle a -> b -> c -> a", "machine.services: dependency cycle d -> d"],
  },
  {
    name: "reports every problem of a document at once",
    yaml: yamlDoc({
      machine: { type: "master", hostnme: "x", services: [service("a", { dependsOn: ["a"] })] },
      cluster: { token: "x" },
    }),
    errors: [
      `machine.type: expected one of worker, controlplane, got "master"`,
      `machine.hostnme: unknown key; did you mean "hostname"?`,
      `cluster.token: expected ${tokenExpected}, got "******"`,
      "machine.services: dependency cycle a -> a",
    ],
  },
];

const good: { name: string; yaml: string; warnings: string[] }[] = [
  { name: "accepts the documented example", yaml: exampleConfigYaml, warnings: controlPlane },
  { name: "accepts a minimal worker", yaml: worker({}), warnings: [] },
  {
    name: "warns about certSANs on a worker whose certificate a control plane signs",
    yaml: worker({ ca: { crt: testCa.crt }, token: "abcdef.0123456789abcdef", certSANs: ["w.example"] }, { cluster: { controlPlane: { endpoint: "https://10.0.0.10:6443" } } }),
    warnings: [
      "machine.certSANs: not in apid's certificate on this machine: without machine.ca.key it comes from a control plane, which signs only the machine's host name, the address it asks from and loopback (give the machine machine.ca.key to sign its own)",
    ],
  },
  {
    name: "warns about a machine that can neither sign apid's certificate nor ask for one",
    yaml: worker({ ca: { crt: testCa.crt } }),
    warnings: [
      "machine.ca.key: not set, nor machine.token and cluster.controlPlane.endpoint to ask a control plane for apid's certificate: apid will not run (set the key, as standalone.yaml does, or the token and endpoint, as worker.yaml does)",
    ],
  },
  {
    name: "takes a worker that asks a control plane for its certificate without a warning",
    yaml: worker({ ca: { crt: testCa.crt }, token: "abcdef.0123456789abcdef" }, { cluster: { controlPlane: { endpoint: "https://10.0.0.10:6443" } } }),
    warnings: [],
  },
  {
    name: "accepts CAs with their keys",
    yaml: worker({ ca: testCa }, { cluster: { ca: testCa, token: "abcdef.0123456789abcdef" } }),
    warnings: [],
  },
  {
    name: "accepts IPv6 everywhere",
    yaml: worker({
      network: {
        nameservers: ["2606:4700:4700::1111"],
        interfaces: [{ name: "eth0", addresses: ["fd00::2/64"], routes: [{ network: "::/0", gateway: "fd00::1" }] }],
      },
      certSANs: ["fd00::2"],
    }),
    warnings: [],
  },
  {
    name: "accepts extra host entries",
    yaml: worker({ network: { extraHostEntries: [{ ip: "10.0.0.5", aliases: ["registry", "registry.lab.example"] }, { ip: "fd00::5", aliases: ["db"] }] } }),
    warnings: [],
  },
  {
    name: "takes a control plane's machine.token without a warning: it signs workers' certificates with it",
    yaml: yamlDoc({
      machine: { type: "controlplane", token: "abcdef.0123456789abcdef", kubelet: { extraMounts: [{ source: "/var/a", destination: "/var/a" }, { source: "/var/b", destination: "/var/b" }] } },
      cluster: { controlPlane: { endpoint: "https://10.0.0.10:6443" } },
    }),
    warnings: controlPlane,
  },
  {
    name: "does not warn about a worker or an empty mount list",
    yaml: worker({ kubelet: { extraMounts: [] } }),
    warnings: [],
  },
  {
    name: "warns about a control plane without an endpoint",
    yaml: yamlDoc({ machine: { type: "controlplane" } }),
    warnings: [
      "cluster.controlPlane.endpoint: not set; a controlplane machine needs it so kubelets and clients reach the API server",
      ...controlPlane,
    ],
  },
  {
    name: "warns about duplicate interfaces and file paths",
    yaml: worker({
      network: { interfaces: [{ name: "eth0" }, { name: "eth0", dhcp: true }] },
      files: [
        { path: "/etc/a", content: "x" },
        { path: "/etc/a", content: "y", op: "append" },
      ],
    }),
    warnings: [
      `machine.network.interfaces[1].name: duplicate interface "eth0", also at machine.network.interfaces[0]`,
      `machine.files[1].path: duplicate path "/etc/a", also at machine.files[0]`,
    ],
  },
  {
    name: "warns about a decimal mode that sets special bits",
    yaml: worker({ files: [{ path: "/etc/a", content: "x", permissions: 644 }] }),
    warnings: [
      `machine.files[0].permissions: 644 is octal 1204, which sets setuid, setgid or sticky bits; for rw-r--r-- write "0644" or 420`,
    ],
  },
];

for (const c of bad) {
  t.test(c.name, async (t) => {
    const result = parseConfig(c.yaml);
    t.strictSame(result, { errors: c.errors, warnings: c.warnings ?? [] });
  });
}

for (const c of good) {
  t.test(c.name, async (t) => {
    const result = parseConfig(c.yaml);
    t.strictSame("errors" in result ? result.errors : [], []);
    t.strictSame(result.warnings, c.warnings);
  });
}

t.test("reads file modes written as octal, quoted or not", async (t) => {
  const text = `${header}machine:\n  type: worker\n  files:\n    - {path: /etc/a, content: "", permissions: 0644}\n    - {path: /etc/b, content: "", permissions: "0755"}\n    - {path: /etc/c, content: ""}\n    - {path: /etc/d, content: "", permissions: 0o600}\n`;
  const config = configOf(text);
  t.strictSame(
    config.machine.files?.map((f) => f.permissions),
    [0o644, 0o755, 0o644, 0o600],
  );
});

t.test("fills in defaults", async (t) => {
  const config = configOf(
    worker({ install: {}, files: [{ path: "/etc/a", content: "" }], services: [service("web")], network: { interfaces: [{ name: "eth0" }] } }),
  );
  const m = config.machine;
  t.equal(m.install?.wipe, false);
  t.equal(m.files?.[0]?.op, "create");
  t.equal(m.services?.[0]?.restart, "forever");
  t.equal(m.network?.interfaces?.[0]?.dhcp, false);
});

t.test("the table covers at least 25 bad documents", async (t) => {
  t.ok(bad.length >= 25, `${bad.length} bad cases`);
});
