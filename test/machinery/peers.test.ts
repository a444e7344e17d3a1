// machine.api.peers: what an entry may be, which targets a list allows, the
// default (the machine's own networks, apid's port), and the file apid reads.
import t from "tap";
import { configOf, worker } from "../config/fixtures.js";
import { defaultPeersLine, parsePeer, peerList, peersFileText, peersOfFile, peerTarget } from "../../src/machinery/peers.js";

const none = () => [];

t.test("entries: addresses, names, ports and networks; anything else says what was expected", async (t) => {
  t.same(parsePeer("10.5.0.7"), { kind: "target", target: "10.5.0.7:50000" });
  t.same(parsePeer("Node-B.example:50001"), { kind: "target", target: "node-b.example:50001" });
  t.same(parsePeer("fd00::7"), { kind: "target", target: "[fd00::7]:50000" });
  t.same(parsePeer("[FD00::7]:7"), { kind: "target", target: "[fd00::7]:7" });
  t.same(parsePeer("10.5.0.0/24"), { kind: "network", address: "10.5.0.0", prefix: 24, family: "ipv4" });
  t.same(parsePeer("fd00::/64"), { kind: "network", address: "fd00::", prefix: 64, family: "ipv6" });
  for (const bad of ["10.5.0.0/33", "fd00::/129", "host/24", "a b", "h:0", "h:70000", "[10.0.0.1]:5", "", "-x"]) {
    t.match(parsePeer(bad), { error: /^expected (a network such as 10\.5\.0\.0\/24|an address, a host name)/ }, JSON.stringify(bad));
  }
  t.equal(peerTarget("a:b:c"), undefined, "not an IPv6 address, not a host: no target");
});

t.test("a list allows its targets exactly, and addresses in its networks at apid's port only", async (t) => {
  const list = peerList(["10.5.0.7", "node-b:50001", "10.6.0.0/16", "fd00::/64"], none);
  const allowed = (node: string) => list.allows(peerTarget(node)!);
  t.ok(allowed("10.5.0.7"));
  t.ok(allowed("10.5.0.7:50000"));
  t.notOk(allowed("10.5.0.7:22"), "another port of a listed address");
  t.ok(allowed("NODE-B:50001"));
  t.notOk(allowed("node-b"), "a name's port is the one listed");
  t.ok(allowed("10.6.200.1"));
  t.notOk(allowed("10.6.200.1:6443"), "a network allows apid's port only");
  t.notOk(allowed("10.7.0.1"));
  t.ok(allowed("fd00::1234"));
  t.notOk(allowed("fd01::1"));
  t.notOk(allowed("127.0.0.1"));
  t.match(list.describe(), /^machine\.api\.peers \(10\.5\.0\.7, node-b:50001/);
  t.notOk(peerList([], none).allows("10.5.0.7:50000"), "an empty list allows nothing");
});

t.test("unset: the networks of the machine's own addresses, loopback never", async (t) => {
  const local = () => [
    { cidr: "127.0.0.1/8", internal: true },
    { cidr: "10.5.0.2/24", internal: false },
    { cidr: "fd00::2/64", internal: false },
    { cidr: null, internal: false },
  ];
  const list = peerList(undefined, local);
  t.ok(list.allows("10.5.0.9:50000"));
  t.ok(list.allows("[fd00::9]:50000"));
  t.notOk(list.allows("10.5.0.9:22"), "apid's port only");
  t.notOk(list.allows("127.0.0.1:50000"), "not loopback");
  t.notOk(list.allows("10.5.1.9:50000"), "not another network");
  t.notOk(list.allows("node-b:50000"), "not a name");
  t.match(list.describe(), /this machine's own networks at port 50000/);
});

t.test("the file apid reads: unset and empty differ", async (t) => {
  t.equal(peersFileText(undefined), `${defaultPeersLine}\n`);
  t.equal(peersOfFile(peersFileText(undefined)), undefined);
  t.same(peersOfFile(peersFileText([])), []);
  t.same(peersOfFile(peersFileText([" 10.5.0.7 ", "10.6.0.0/16"])), ["10.5.0.7", "10.6.0.0/16"]);
});

t.test("machine.api.peers holds at most 1024 entries: 1024 validate, 1025 are refused naming the limit", async (t) => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  t.doesNotThrow(() => configOf(worker({ api: { peers: entries(1024) } })));
  t.throws(() => configOf(worker({ api: { peers: entries(1025) } })), { message: /machine\.api\.peers: .*1024/ });
});
