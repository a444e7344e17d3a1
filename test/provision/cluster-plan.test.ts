// A cluster's plan: link names within IFNAMSIZ, derived from the name; a /24
// of 10.5.0.0/16 that overlaps no host route or other cluster; fixed
// addresses and MACs per node.
import t from "tap";
import { bridgeName, chooseSubnet, isClusterLink, macFor, overlaps, parseNet, planCluster, tapName } from "../../src/provision/qemu/cluster-plan.js";

t.test("bridge and tap names are at most 15 characters and derive from the cluster's name", async (t) => {
  const long = "a".repeat(63);
  t.ok(bridgeName(long).length <= 15, bridgeName(long));
  t.ok(tapName(long, 999).length <= 15, tapName(long, 999));
  t.match(bridgeName("dev"), /^kb-[0-9a-f]{8}$/);
  t.equal(bridgeName("dev"), bridgeName("dev"), "the same name gives the same bridge");
  t.not(bridgeName("dev"), bridgeName("dev2"), "another name another bridge");
  t.ok(isClusterLink("dev", bridgeName("dev")) && isClusterLink("dev", tapName("dev", 3)), "its own links are recognised");
  t.notOk(isClusterLink("dev2", tapName("dev", 3)), "another cluster's are not");
  t.throws(() => tapName("dev", 1000), /between 0 and 999/);
});

t.test("MACs are locally administered unicast, fixed per cluster and node", async (t) => {
  const mac = macFor("dev", 1);
  t.match(mac, /^02:6b:([0-9a-f]{2}:){3}[0-9a-f]{2}$/);
  t.equal(macFor("dev", 1), mac, "stable");
  t.not(macFor("dev", 2), mac, "per node");
});

t.test("the subnet is the first /24 of 10.5.0.0/16 no host route or cluster overlaps", async (t) => {
  const net = (s: string) => parseNet(s)!;
  t.same(chooseSubnet([]), net("10.5.0.0/24"));
  t.same(chooseSubnet([net("10.5.0.0/24"), net("10.5.1.7/32")]), net("10.5.2.0/24"), "skips a cluster's /24 and a host address");
  t.same(chooseSubnet([net("10.5.0.0/23")]), net("10.5.2.0/24"), "a wider host route covers several /24s");
});

t.test("a host route covering the whole range leaves nothing, said plainly", async (t) => {
  t.throws(() => chooseSubnet([parseNet("10.0.0.0/8")!]), /every \/24 of 10\.5\.0\.0\/16 is in use/);
  t.same(chooseSubnet([{ base: 0, prefixLength: 0 }]), parseNet("10.5.0.0/24"), "a default route is not a local network");
  t.equal(parseNet("default"), undefined);
  t.equal(parseNet("fe80::/64"), undefined, "IPv6 is ignored");
  t.ok(overlaps(parseNet("10.5.3.0/24")!, parseNet("10.5.0.0/16")!));
  t.notOk(overlaps(parseNet("10.5.3.0/24")!, parseNet("10.5.4.0/24")!));
});

t.test("nodes: control planes then workers, .2 upwards, the host at .1", async (t) => {
  const plan = planCluster("dev", parseNet("10.5.7.0/24")!, 2, 1);
  t.equal(plan.subnet, "10.5.7.0/24");
  t.equal(plan.hostAddress, "10.5.7.1");
  t.same(plan.nodes.map((n) => [n.name, n.role, n.address]), [
    ["cp-1", "controlplane", "10.5.7.2"],
    ["cp-2", "controlplane", "10.5.7.3"],
    ["w-1", "worker", "10.5.7.4"],
  ]);
  t.equal(new Set(plan.nodes.map((n) => n.mac)).size, 3, "a MAC each");
  t.equal(new Set(plan.nodes.map((n) => n.tap)).size, 3, "a tap each");
  t.throws(() => planCluster("dev", parseNet("10.5.7.0/24")!, 0, 1), /1 or more control planes/);
  t.throws(() => planCluster("dev", parseNet("10.5.7.0/24")!, 1, 250), /at most 250/);
});
