import t from "tap";
import { formatAddress, parseAddress, parsePrefix } from "../../src/net/ip.js";

t.test("parses IPv4 and IPv6 addresses to network-order bytes", async (t) => {
  t.same(parseAddress("10.0.0.2"), { value: { family: 4, bytes: Buffer.from([10, 0, 0, 2]) } });
  const v6 = parseAddress("fd00::1:2");
  t.same(v6, { value: { family: 6, bytes: Buffer.from("fd000000000000000000000000010002", "hex") } });
  t.match(parseAddress("eth0"), { error: "expected an IPv4 or IPv6 address, got `eth0`" });
});

t.test("parses prefixes, bare addresses as hosts, and default", async (t) => {
  t.match(parsePrefix("10.0.0.2/24"), { value: { family: 4, length: 24 } });
  t.match(parsePrefix("10.0.0.2"), { value: { family: 4, length: 32 } });
  t.match(parsePrefix("default", 6), { value: { family: 6, length: 0, bytes: Buffer.alloc(16) } });
  t.match(parsePrefix("10.0.0.2/x"), { error: /prefix length/ });
  t.match(parsePrefix("10.0.0.2/24/1"), { error: /prefix length/ });
});

t.test("formats addresses, shortening the longest zero run", async (t) => {
  t.equal(formatAddress(Buffer.from([192, 168, 1, 1])), "192.168.1.1");
  t.equal(formatAddress(Buffer.from("fe800000000000000000000000000001", "hex")), "fe80::1");
  t.equal(formatAddress(Buffer.alloc(16)), "::");
  t.equal(formatAddress(Buffer.from("00010000000100000000000000000001", "hex")), "1:0:1::1");
  t.equal(formatAddress(Buffer.from("00010002000300040005000600070008", "hex")), "1:2:3:4:5:6:7:8");
});
