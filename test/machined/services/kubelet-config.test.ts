// kubelet's flags, config file and bootstrap kubeconfig, and how the node IP
// is chosen.
import t from "tap";
import YAML from "yaml";
import { bootstrapKubeconfig, defaultRouteAddresses, defaultRouteLink, inSubnet, kubeletArgs, kubeletConfigFile, nodeIp, nodeName } from "../../../src/machined/services/kubelet-config.js";
import { configOf, worker } from "../../config/fixtures.js";

const defaults = [
  "--config=/etc/kubernetes/kubelet.yaml",
  "--kubeconfig=/etc/kubernetes/kubeconfig",
  "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubeconfig",
  "--cert-dir=/var/lib/kubelet/pki",
  "--root-dir=/var/lib/kubelet",
  "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
];

/** The args without --container-runtime (see the bug test below). */
const args = (...a: Parameters<typeof kubeletArgs>) => kubeletArgs(...a).filter((x) => !x.startsWith("--container-runtime="));

t.test("passes the default flags and the hostname", async (t) => {
  t.same(args(configOf(worker({})), "node-1", []), [...defaults, "--hostname-override=node-1"]);
});

t.test("lets extraArgs override a default of the same name and add others", async (t) => {
  const config = configOf(
    worker({ kubelet: { extraArgs: { "max-pods": "150", "root-dir": "/var/lib/k", "hostname-override": "other" } } }),
  );
  const got = args(config, "node-1", []);
  t.same(got, [
    "--config=/etc/kubernetes/kubelet.yaml",
    "--kubeconfig=/etc/kubernetes/kubeconfig",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubeconfig",
    "--cert-dir=/var/lib/kubelet/pki",
    "--root-dir=/var/lib/k",
    "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
    "--hostname-override=other",
    "--max-pods=150",
  ]);
  t.equal(got.filter((a) => a.startsWith("--root-dir=")).length, 1, "each flag once");
});

t.test("passes no flag that kubelet 1.27 and later reject", async (t) => {
  t.same(
    kubeletArgs(configOf(worker({})), "n", []).filter((a) => a.startsWith("--container-runtime=")),
    [],
  );
});

t.test("chooses the node IP from validSubnets and passes it", async (t) => {
  const config = configOf(worker({ kubelet: { nodeIP: { validSubnets: ["192.168.0.0/16", "10.0.0.0/24"] } } }));
  const addrs = ["172.17.0.2", "10.0.0.7", "192.168.5.5"];
  t.equal(nodeIp(config, addrs), "10.0.0.7", "the first address in any subnet, in address order");
  t.same(args(config, "n", addrs).at(-1), "--node-ip=10.0.0.7");
});

t.test("passes no node IP when no address fits or no subnets are given", async (t) => {
  const config = configOf(worker({ kubelet: { nodeIP: { validSubnets: ["10.0.0.0/24"] } } }));
  t.equal(nodeIp(config, ["10.0.1.1", "fd00::1"]), undefined);
  t.notOk(kubeletArgs(config, "n", ["10.0.1.1"]).some((a) => a.startsWith("--node-ip")));
  t.equal(nodeIp(configOf(worker({})), ["10.0.0.1"]), undefined);
  t.equal(nodeIp(configOf(worker({ kubelet: { nodeIP: { validSubnets: [] } } })), ["10.0.0.1"]), undefined);
});

t.test("lets an extraArgs node-ip win over the chosen one", async (t) => {
  const config = configOf(worker({ kubelet: { nodeIP: { validSubnets: ["10.0.0.0/8"] }, extraArgs: { "node-ip": "10.9.9.9" } } }));
  const got = kubeletArgs(config, "n", ["10.0.0.5"]);
  t.same(
    got.filter((a) => a.startsWith("--node-ip")),
    ["--node-ip=10.9.9.9"],
  );
});

t.test("tells whether an address lies in a subnet", async (t) => {
  const table: [string, string, boolean][] = [
    ["10.0.0.7", "10.0.0.0/24", true],
    ["10.0.0.255", "10.0.0.0/24", true],
    ["10.0.1.0", "10.0.0.0/24", false],
    ["9.255.255.255", "10.0.0.0/8", false],
    ["10.0.0.99", "10.0.0.10/24", true],
    ["1.2.3.4", "0.0.0.0/0", true],
    ["255.255.255.255", "0.0.0.0/0", true],
    ["10.0.0.1", "10.0.0.1/32", true],
    ["10.0.0.2", "10.0.0.1/32", false],
    ["128.0.0.1", "128.0.0.0/1", true],
    ["127.255.255.255", "128.0.0.0/1", false],
    ["192.168.1.2", "192.168.1.2/31", true],
    ["192.168.1.3", "192.168.1.2/31", true],
    ["192.168.1.4", "192.168.1.2/31", false],
    ["fd00::1", "10.0.0.0/8", false],
    ["10.0.0.1", "fd00::/64", false],
    ["10.0.0.1", "::/0", false],
    ["::1", "0.0.0.0/0", false],
    ["fd00::10", "fd00::/64", true],
    ["fd01::10", "fd00::/64", false],
  ];
  for (const [addr, cidr, want] of table) t.equal(inSubnet(addr, cidr), want, `${addr} in ${cidr}`);
});

t.test("honours the prefix length of an IPv6 subnet", async (t) => {
  t.equal(inSubnet("fd00:0:0:1::5", "fd00::/64"), false);
  t.equal(inSubnet("fd00:1::5", "fd00::/64"), false);
  t.equal(inSubnet("2001:db8::5", "2001:db8:0:0::/64"), true);
  t.equal(inSubnet("2001:db8::5", "::/0"), true);
  t.equal(inSubnet("fd00::5", "fd00::5/128"), true);
});

t.test("writes a KubeletConfiguration with the cluster DNS, defaulting to 10.96.0.10", async (t) => {
  const doc = YAML.parse(kubeletConfigFile(configOf(worker({}))));
  t.equal(doc.kind, "KubeletConfiguration");
  t.same(doc.clusterDNS, ["10.96.0.10"]);
  t.equal(doc.authentication.x509.clientCAFile, "/etc/kubernetes/pki/ca.crt");
  t.equal(doc.staticPodPath, "/etc/kubernetes/manifests");
  t.equal(doc.healthzPort, 10248);
  const custom = YAML.parse(kubeletConfigFile(configOf(worker({ kubelet: { clusterDNS: ["10.0.0.53", "fd00::53"] } }))));
  t.same(custom.clusterDNS, ["10.0.0.53", "fd00::53"]);
  const otherServices = YAML.parse(kubeletConfigFile(configOf(worker({}, { cluster: { network: { serviceSubnets: ["172.20.0.0/16"] } } }))));
  t.same(otherServices.clusterDNS, ["172.20.0.10"], "the tenth address of cluster.network.serviceSubnets");
  t.equal(doc.serverTLSBootstrap, true, "the serving certificate comes from the cluster");
});

const routeTable = [
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
  "eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0",
  "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0",
  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
].join("\n");

t.test("without validSubnets the node IP is the default route's link's address (IPv4 first)", async (t) => {
  t.equal(defaultRouteLink(routeTable), "eth0", "the default route of the lowest metric");
  t.equal(defaultRouteLink(routeTable.split("\n").filter((l) => !l.includes("\t00000000\t0")).join("\n")), undefined, "none without a default route");
  const links = {
    eth0: [
      { address: "fe80::1", netmask: "", family: "IPv6", mac: "", internal: false, cidr: null, scopeid: 2 },
      { address: "fd00::7", netmask: "", family: "IPv6", mac: "", internal: false, cidr: null, scopeid: 0 },
      { address: "192.0.2.7", netmask: "", family: "IPv4", mac: "", internal: false, cidr: null },
    ],
    eth1: [{ address: "192.168.1.9", netmask: "", family: "IPv4", mac: "", internal: false, cidr: null }],
  } as unknown as Parameters<typeof defaultRouteAddresses>[1];
  const viaDefault = defaultRouteAddresses(routeTable, links);
  t.same(viaDefault, ["fd00::7", "192.0.2.7"], "link-local addresses are not candidates");
  const config = configOf(worker({}));
  t.equal(nodeIp(config, ["192.168.1.9", "fd00::7", "192.0.2.7"], viaDefault), "192.0.2.7");
  t.equal(nodeIp(config, ["192.168.1.9", "fd00::7"], viaDefault), "fd00::7", "IPv6 when the link has no IPv4 address");
  t.equal(nodeIp(configOf(worker({ kubelet: { nodeIP: { validSubnets: ["192.168.1.0/24"] } } })), ["192.168.1.9", "192.0.2.7"], viaDefault), "192.168.1.9", "validSubnets win");
});

t.test("writes a bootstrap kubeconfig with the endpoint and the bootstrap token", async (t) => {
  const config = configOf(
    worker({}, { cluster: { controlPlane: { endpoint: "https://10.0.0.10:6443" }, token: "0123ab.fedcba9876543210" } }),
  );
  const doc = YAML.parse(bootstrapKubeconfig(config));
  t.same(doc.clusters, [{ name: "kiln", cluster: { server: "https://10.0.0.10:6443", "certificate-authority": "/etc/kubernetes/pki/ca.crt" } }]);
  t.same(doc.users, [{ name: "kubelet-bootstrap", user: { token: "0123ab.fedcba9876543210" } }]);
  t.equal(doc["current-context"], "bootstrap");
  const bare = YAML.parse(bootstrapKubeconfig(configOf(worker({}))));
  t.equal(bare.clusters[0].cluster.server, "https://127.0.0.1:6443");
  t.equal(bare.users[0].user.token, "");
});

t.test("names the image's pause image, so the kubelet's image GC keeps it", async (t) => {
  t.ok(kubeletArgs(configOf(worker({})), "n", [], undefined, "kiln.local/pause:0.1.7").includes("--pod-infra-container-image=kiln.local/pause:0.1.7"));
  t.notOk(kubeletArgs(configOf(worker({})), "n", []).some((a) => a.startsWith("--pod-infra-container-image")), "none without one");
});

t.test("the Node's name is the hostname unless extraArgs overrides kubelet's hostname-override", async (t) => {
  t.equal(nodeName(configOf(worker({})), "node-1"), "node-1");
  t.equal(nodeName(configOf(worker({ kubelet: { extraArgs: { "hostname-override": "other" } } })), "node-1"), "other");
});
