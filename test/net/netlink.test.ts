import t from "tap";
import {
  align4,
  decodeAttrs,
  decodeIfAddr,
  decodeIfInfo,
  decodeMessages,
  decodeRtMsg,
  encodeAttrs,
  encodeIfAddr,
  encodeIfInfo,
  encodeMessage,
  encodeRtMsg,
  errnoOf,
  NetlinkError,
  NLM_F,
  NLMSG,
  RTM,
  stringAttr,
  u32Attr,
} from "../../src/net/netlink.js";

/** Bytes from a hex string with spaces. */
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** The messages in `buf`, or a thrown error (failing the test). */
function messages(buf: Buffer) {
  const got = decodeMessages(buf);
  if ("error" in got) throw new Error(got.error);
  return got.value;
}

// struct nlmsghdr { __u32 len; __u16 type; __u16 flags; __u32 seq; __u32 pid; } — host order (LE)
const getlinkDump = hex(`
  20000000 1200 0103 01000000 00000000
  00 00 0000 00000000 00000000 00000000`);

t.test("aligns to 4 bytes", async (t) => {
  t.same([0, 1, 4, 5, 7, 8].map(align4), [0, 4, 4, 8, 8, 8]);
});

t.test("encodes an RTM_GETLINK dump request byte for byte", async (t) => {
  const payload = encodeIfInfo({ family: 0, type: 0, index: 0, flags: 0, change: 0 });
  const msg = encodeMessage({ type: RTM.GETLINK, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 1, pid: 0, payload });
  t.same(msg, getlinkDump);
});

t.test("encodes rtattrs with the length unpadded and the value padded", async (t) => {
  // struct rtattr { unsigned short rta_len; unsigned short rta_type; } + value, RTA_ALIGN(4)
  const attrs = encodeAttrs([stringAttr(3, "lo"), u32Attr(4, 1500), { type: 1, data: Buffer.alloc(0) }]);
  t.same(attrs, hex("0700 0300 6c6f0000  0800 0400 dc050000  0400 0100"));
  t.same(decodeAttrs(attrs), [
    { type: 3, data: hex("6c6f00") },
    { type: 4, data: hex("dc050000") },
    { type: 1, data: Buffer.alloc(0) },
  ]);
});

t.test("a message whose payload is unaligned counts its length without the padding", async (t) => {
  const msg = encodeMessage({ type: 99, flags: 0, seq: 2, pid: 3, payload: hex("aabbcc") });
  t.same(msg, hex("13000000 6300 0000 02000000 03000000 aabbcc00"));
  t.same(decodeMessages(msg), { value: [{ type: 99, flags: 0, seq: 2, pid: 3, payload: hex("aabbcc") }] });
});

t.test("decodes an NLMSG_ERROR carrying ENODEV and an ACK carrying 0", async (t) => {
  // struct nlmsgerr { int error; struct nlmsghdr msg; } — capped: the request's header only
  const nack = hex("24000000 0200 0001 07000000 00000000  edffffff  20000000 1200 0500 07000000 00000000");
  const ack = hex("24000000 0200 0001 08000000 00000000  00000000  20000000 1300 0500 08000000 00000000");
  const got = messages(Buffer.concat([nack, ack]));
  t.same(got.map((m) => [m.type, m.flags, m.seq]), [[NLMSG.ERROR, NLM_F.CAPPED, 7], [NLMSG.ERROR, NLM_F.CAPPED, 8]]);
  t.same(got.map(errnoOf), [19, 0]);
});

t.test("decodes a multipart dump ending in NLMSG_DONE", async (t) => {
  const part = (seq: number, index: number) =>
    encodeMessage({
      type: RTM.NEWLINK,
      flags: NLM_F.MULTI,
      seq,
      pid: 4242,
      payload: Buffer.concat([
        encodeIfInfo({ family: 0, type: 772, index, flags: 0x49, change: 0 }),
        encodeAttrs([stringAttr(3, `if${index}`)]),
      ]),
    });
  const done = hex("14000000 0300 0200 05000000 92100000 00000000");
  const got = messages(Buffer.concat([part(5, 1), part(5, 2), done]));
  t.same(got.map((m) => m.type), [RTM.NEWLINK, RTM.NEWLINK, NLMSG.DONE]);
  t.same(got.slice(0, 2).map((m) => decodeIfInfo(m.payload).index), [1, 2]);
  t.same(decodeAttrs(got[1]?.payload.subarray(16) ?? Buffer.alloc(0)), [{ type: 3, data: hex("69663200") }]);
  t.same(got.map(errnoOf), [0, 0, 0]);
});

t.test("a DONE carrying a negative int is a failed dump", async (t) => {
  const got = messages(hex("14000000 0300 0200 05000000 00000000 f0ffffff"));
  t.same(got.map(errnoOf), [16]);
});

t.test("a truncated message is an error value naming the offset", async (t) => {
  t.same(decodeMessages(getlinkDump.subarray(0, 24)), { error: "netlink message at offset 0 claims 32 bytes, 24 left" });
  t.same(decodeMessages(hex("00000000 0000 0000 00000000 00000000")), {
    error: "netlink message at offset 0 claims 0 bytes, 16 left",
  });
});

t.test("encodes and decodes ifinfomsg, ifaddrmsg and rtmsg as the kernel lays them out", async (t) => {
  const info = { family: 0, type: 1, index: 7, flags: 0x1, change: 0x1 };
  t.same(encodeIfInfo(info), hex("00 00 0100 07000000 01000000 01000000"));
  t.same(decodeIfInfo(encodeIfInfo(info)), info);
  const addr = { family: 2, prefixLength: 24, flags: 0, scope: 0, index: 3 };
  t.same(encodeIfAddr(addr), hex("02 18 00 00 03000000"));
  t.same(decodeIfAddr(encodeIfAddr(addr)), addr);
  const rt = { family: 2, dstLength: 0, srcLength: 0, tos: 0, table: 254, protocol: 4, scope: 0, type: 1, flags: 0 };
  t.same(encodeRtMsg(rt), hex("02 00 00 00 fe 04 00 01 00000000"));
  t.same(decodeRtMsg(encodeRtMsg(rt)), rt);
});

t.test("NetlinkError names the operation and the errno", async (t) => {
  const err = new NetlinkError("adding 10.0.0.2/24 to eth9", 19);
  t.equal(err.message, "adding 10.0.0.2/24 to eth9: ENODEV");
  t.equal(err.code, "ENODEV");
});
