// Sandbox addresses: the range, its /30 slots, and what a range may be.
import t from "tap";
import { apidEndpoint, defaultSandboxCidr, parseRange, sandboxRange, slotAddresses } from "../../src/provision/sandbox/addresses.js";

t.test("uses 10.213.0.0/16 unless KILN_SANDBOX_CIDR names another range", async (t) => {
  t.equal(defaultSandboxCidr, "10.213.0.0/16");
  t.match(sandboxRange({}), { cidr: "10.213.0.0/16", prefixLength: 16, slots: 16384 });
  t.match(sandboxRange({ KILN_SANDBOX_CIDR: "192.168.77.0/24" }), { cidr: "192.168.77.0/24", slots: 64 });
  t.throws(() => sandboxRange({ KILN_SANDBOX_CIDR: "nope" }), /KILN_SANDBOX_CIDR: Expected the sandbox range to be an IPv4 CIDR/);
});

t.test("slot N is the N-th /30: the host end holds .1, the sandbox .2", async (t) => {
  const range = sandboxRange({});
  t.same(slotAddresses(range, 0), { slot: 0, network: "10.213.0.0/30", link: "kiln-0", hostAddress: "10.213.0.1", address: "10.213.0.2", prefixLength: 30 });
  t.match(slotAddresses(range, 1), { network: "10.213.0.4/30", hostAddress: "10.213.0.5", address: "10.213.0.6" });
  t.match(slotAddresses(range, 64), { network: "10.213.1.0/30", address: "10.213.1.2" });
  const last = slotAddresses(range, range.slots - 1);
  t.match(last, { network: "10.213.255.252/30", hostAddress: "10.213.255.253", address: "10.213.255.254", link: "kiln-16383" });
  t.ok(last.link.length <= 15, "interface names fit IFNAMSIZ");
  t.throws(() => slotAddresses(range, range.slots), /between 0 and 16383, got 16384/);
  t.throws(() => slotAddresses(range, -1), /got -1/);
});

t.test("refuses ranges that are not private, not a network, or too small", async (t) => {
  t.match(parseRange("8.8.0.0/16"), { error: /to be private/ });
  t.match(parseRange("172.32.0.0/16"), { error: /to be private/ });
  t.match(parseRange("10.0.0.0/7"), { error: /between 8 and 30, got 7/ });
  t.match(parseRange("10.213.0.0/31"), { error: /between 8 and 30, got 31/ });
  t.match(parseRange("10.213.0.1/16"), { error: /host bits are set \(the network is 10\.213\.0\.0\/16\)/ });
  t.match(parseRange("10.213.0.256/24"), { error: /not ADDRESS\/PREFIX/ });
  t.match(parseRange("10.213.0.0"), { error: /not ADDRESS\/PREFIX/ });
  t.match(parseRange("172.20.0.0/14"), { value: { cidr: "172.20.0.0/14", slots: 65536 } });
  t.match(parseRange("192.168.0.0/30"), { value: { slots: 1 } });
});

t.test("apid's endpoint is the address on port 50000", async (t) => {
  t.equal(apidEndpoint("10.213.0.2"), "10.213.0.2:50000");
});
