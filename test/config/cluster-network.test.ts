// cluster.network and the control-plane-only sections: defaults, the
// addresses derived from the subnets, and the errors that name what to fix.
import t from "tap";
import { addressInSubnet, clusterNetwork } from "../../src/config/cluster-network.js";
import { parseConfig } from "../../src/config/parse.js";
import { configOf, testCa, worker } from "./fixtures.js";

const errorsOf = (yaml: string): string[] => {
  const r = parseConfig(yaml);
  return "errors" in r ? r.errors : [];
};

t.test("defaults: 10.244.0.0/16 pods, 10.96.0.0/12 services, kiln's CNI, the API at .1 and DNS at .10", async (t) => {
  t.same(clusterNetwork(configOf(worker({}))), { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", cni: "kiln", apiServiceIp: "10.96.0.1", dnsServiceIp: "10.96.0.10" });
  const set = configOf(worker({}, { cluster: { network: { podSubnets: ["10.32.0.0/12"], serviceSubnets: ["172.16.0.0/24"], cni: "none" } } }));
  t.same(clusterNetwork(set), { podSubnet: "10.32.0.0/12", serviceSubnet: "172.16.0.0/24", cni: "none", apiServiceIp: "172.16.0.1", dnsServiceIp: "172.16.0.10" });
});

t.test("the nth address carries across octets", async (t) => {
  t.equal(addressInSubnet("10.0.0.250/16", 10), "10.0.1.4");
  t.equal(addressInSubnet("192.168.255.255/32", 1), "192.169.0.0");
});

t.test("subnets that cannot work are refused, naming the field and the fix", async (t) => {
  const net = (network: Record<string, unknown>) => errorsOf(worker({}, { cluster: { network } }));
  t.match(net({ podSubnets: ["10.244.1.0/16"] }), [/^cluster\.network\.podSubnets\[0\]: .*host bits set past its prefix/]);
  t.match(net({ podSubnets: ["10.244.0.0/24"] }), [/^cluster\.network\.podSubnets\[0\]: is too small: each node takes a \/24/]);
  t.match(net({ podSubnets: ["10.244.0.0/16", "10.245.0.0/16"] }), [/^cluster\.network\.podSubnets: one pod subnet: kiln runs single-stack IPv4/]);
  t.match(net({ podSubnets: ["fd00::/48"] }), [/^cluster\.network\.podSubnets\[0\]: expected an IPv4 network/]);
  t.match(net({ serviceSubnets: ["10.0.0.0/8"] }), [/^cluster\.network\.serviceSubnets\[0\]: must be between \/12 and \/28/]);
  t.match(net({ serviceSubnets: [] }), [/^cluster\.network\.serviceSubnets: /]);
  t.match(net({ cni: "flannel" }), [/^cluster\.network\.cni: .*kiln.*none/]);
});

t.test("a worker holding a control plane's secrets is refused, each section named", async (t) => {
  const errors = errorsOf(worker({}, { cluster: { serviceAccount: { key: testCa.key }, frontProxy: { ca: testCa }, etcd: { ca: testCa } } }));
  t.same(errors.filter((e) => e.includes("only control-plane machines hold")).sort(), [
    "cluster.etcd: only control-plane machines hold the etcd CA; remove it from this worker's config (kilnctl gen config's worker.yaml never has it)",
    "cluster.frontProxy: only control-plane machines hold the front-proxy CA; remove it from this worker's config (kilnctl gen config's worker.yaml never has it)",
    "cluster.serviceAccount: only control-plane machines hold the service-account signing key; remove it from this worker's config (kilnctl gen config's worker.yaml never has it)",
  ]);
  t.same(errorsOf(worker({ type: "controlplane" }, { cluster: { serviceAccount: { key: testCa.key }, frontProxy: { ca: testCa }, etcd: { ca: testCa } } })), [], "a control plane may hold them");
});
