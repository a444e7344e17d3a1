import t from "tap";
import { type DhcpMessage, decodeDhcp, encodeDhcp, maskLength } from "../../src/net/dhcp-packet.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const zeros = (n: number) => "00".repeat(n);

// RFC 2131 section 2, figure 1, written out by hand: a DISCOVER with the BROADCAST flag.
const discoverBytes = hex(
  `
  01 01 06 00                           # op BOOTREQUEST, htype Ethernet, hlen 6, hops 0
  39 03 f3 26                           # xid
  00 05 80 00                           # secs 5, flags BROADCAST
  00000000 00000000 00000000 00000000   # ciaddr yiaddr siaddr giaddr
  00 05 3c 04 8d 59 ${zeros(10)}        # chaddr, padded to 16 bytes
  ${zeros(64)} ${zeros(128)}            # sname, file
  63 82 53 63                           # magic cookie
  35 01 01                              # option 53 message type: DISCOVER
  32 04 c0 a8 01 64                     # option 50 requested address: 192.168.1.100
  37 03 01 03 06                        # option 55 parameter request list: 1 3 6
  39 02 05 dc                           # option 57 max message size: 1500
  3d 07 01 00 05 3c 04 8d 59            # option 61 client id: type 1, then the MAC
  ff                                    # end
`.replace(/#.*$/gm, ""),
);

const discover: DhcpMessage = {
  op: "request", type: "DISCOVER", xid: 0x3903f326, secs: 5, broadcast: true,
  ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: "00:05:3c:04:8d:59",
  options: { requestedIp: "192.168.1.100", parameters: [1, 3, 6], maxSize: 1500, clientId: new Uint8Array(hex("0100053c048d59")) },
};

t.test("encodes a DISCOVER exactly as RFC 2131's layout has it", async (t) => {
  t.equal(discoverBytes.length, 236 + 4 + 3 + 6 + 5 + 4 + 9 + 1);
  t.same(encodeDhcp(discover).toString("hex"), discoverBytes.toString("hex"));
});

t.test("decodes the hand-written bytes back to the message", async (t) => {
  const r = decodeDhcp(discoverBytes);
  if (!("value" in r)) throw new Error(r.error);
  const { raw, ...m } = r.value;
  t.same(m, discover);
  t.same(raw?.get(53), Buffer.from([1]));
});

t.test("an ACK with every option kiln reads round-trips", async (t) => {
  const ack: DhcpMessage = {
    op: "reply", type: "ACK", xid: 1, secs: 0, broadcast: false,
    ciaddr: "0.0.0.0", yiaddr: "10.0.2.15", siaddr: "10.0.2.2", giaddr: "0.0.0.0", chaddr: "52:54:00:12:34:56",
    options: {
      subnetMask: "255.255.255.0", routers: ["10.0.2.2"], nameservers: ["10.0.2.3", "1.1.1.1"], hostname: "node-1", domain: "example.test",
      leaseSeconds: 86400, serverId: "10.0.2.2", renewalSeconds: 43200, rebindingSeconds: 75600, message: "ok",
    },
  };
  const r = decodeDhcp(encodeDhcp(ack));
  if (!("value" in r)) throw new Error(r.error);
  const { raw: _, ...back } = r.value;
  t.same(back, ack);
});

t.test("repeated options are concatenated and long ones split (RFC 3396); pads are skipped", async (t) => {
  const long = "h".repeat(300);
  const bytes = encodeDhcp({ ...discover, options: { hostname: long } });
  t.ok(bytes.includes(Buffer.from([12, 255])) && bytes.includes(Buffer.from([12, 45])), "split into 255 + 45");
  const r = decodeDhcp(Buffer.concat([bytes.subarray(0, 240), Buffer.from([0, 0]), bytes.subarray(240)]));
  t.equal("value" in r && r.value.options.hostname, long);
});

t.test("says why bytes are not a DHCP message", async (t) => {
  t.same(decodeDhcp(Buffer.alloc(10)), { error: "a DHCP message has at least 240 bytes, got 10" });
  t.same(decodeDhcp(Buffer.alloc(300)), { error: "not a DHCP message: the magic cookie is missing" });
  const noType = Buffer.from(discoverBytes);
  noType[242] = 9;
  t.same(decodeDhcp(noType), { error: "expected a DHCP message type (option 53) of 1-8, got 9" });
  const truncated = discoverBytes.subarray(0, 246);
  t.match(decodeDhcp(truncated), { error: /option 50 claims 4 bytes, 1 left/ });
});

t.test("netmasks become prefix lengths; holes are refused", async (t) => {
  t.equal(maskLength("255.255.255.0"), 24);
  t.equal(maskLength("255.255.252.0"), 22);
  t.equal(maskLength("255.255.255.255"), 32);
  t.equal(maskLength("0.0.0.0"), 0);
  t.equal(maskLength("255.0.255.0"), undefined);
});
