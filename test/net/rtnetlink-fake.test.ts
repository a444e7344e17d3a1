import t from "tap";
import { encodeAttrs, encodeIfInfo, encodeMessage, NLM_F, NLMSG, RTM, stringAttr, u32Attr } from "../../src/net/netlink.js";
import { openRtnetlink } from "../../src/net/rtnetlink.js";
import { createFakeSys, type FakeSys } from "../../src/sys/fake.js";
import { AF, SOCK } from "../../src/sys/sys.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** Makes the fake's recv hand out `datagrams` one per call. */
function replies(sys: FakeSys, datagrams: Buffer[]): void {
  sys.respond("recv", () => datagrams.shift() ?? Buffer.alloc(0));
}

/** An NLMSG_ERROR for request `seq` with `errno` (0: an ACK). */
function ack(seq: number, errno = 0): Buffer {
  const payload = Buffer.alloc(20);
  payload.writeInt32LE(-errno, 0);
  return encodeMessage({ type: NLMSG.ERROR, flags: NLM_F.CAPPED, seq, pid: 0, payload });
}

/** An RTM_NEWLINK dump part for one link. */
function link(seq: number, index: number, name: string, flags: number): Buffer {
  const payload = Buffer.concat([
    encodeIfInfo({ family: 0, type: 1, index, flags, change: 0 }),
    encodeAttrs([stringAttr(3, name), u32Attr(4, 1500), { type: 1, data: hex("020000000001") }]),
  ]);
  return encodeMessage({ type: RTM.NEWLINK, flags: NLM_F.MULTI, seq, pid: 0, payload });
}

t.test("opens a close-on-exec NETLINK_ROUTE socket and closes it", async (t) => {
  const sys = createFakeSys();
  openRtnetlink(sys).close();
  t.same(sys.argsOf("socket"), [[AF.NETLINK, SOCK.RAW | SOCK.CLOEXEC, 0]]);
  t.same(sys.argsOf("close"), [[3]]);
});

t.test("linkSetUp sends RTM_SETLINK by name with IFF_UP, asking for an ACK", async (t) => {
  const sys = createFakeSys();
  replies(sys, [ack(1)]);
  openRtnetlink(sys).linkSetUp("lo");
  const sent = hex("28000000 1300 0500 01000000 00000000  00 00 0000 00000000 01000000 01000000  0700 0300 6c6f0000");
  t.same(sys.argsOf("send"), [[3, sent, 0]]);
});

t.test("a refused request names the operation and the errno", async (t) => {
  const sys = createFakeSys();
  replies(sys, [ack(1, 19)]);
  t.throws(() => openRtnetlink(sys).addrAdd("eth9", "10.0.0.2/24"), {
    name: "NetlinkError",
    message: "adding 10.0.0.2/24 to eth9: ENODEV",
    errno: 19,
  });
});

t.test("linkList gathers a dump across datagrams, skipping other sequence numbers", async (t) => {
  const sys = createFakeSys();
  const done = encodeMessage({ type: NLMSG.DONE, flags: NLM_F.MULTI, seq: 1, pid: 0, payload: Buffer.alloc(4) });
  replies(sys, [Buffer.concat([ack(9), link(1, 1, "lo", 0x49)]), Buffer.concat([link(1, 2, "eth0", 0x10002), done])]);
  t.same(openRtnetlink(sys).linkList(), [
    { index: 1, name: "lo", up: true, lowerUp: false, mtu: 1500, mac: "02:00:00:00:00:01" },
    { index: 2, name: "eth0", up: false, lowerUp: true, mtu: 1500, mac: "02:00:00:00:00:01" },
  ]);
});

t.test("a failed recv is a NetlinkError for the operation, keeping the SysError", async (t) => {
  const sys = createFakeSys();
  sys.failOn("recv", undefined, "EAGAIN");
  const err = t.throws(() => openRtnetlink(sys).linkSetUp("lo")) as Error;
  t.equal(err.message, "setting lo up: EAGAIN");
  t.match(err.cause, { name: "SysError", code: "EAGAIN" });
});

t.test("bad input is refused before anything is sent", async (t) => {
  const sys = createFakeSys();
  const nl = openRtnetlink(sys);
  t.throws(() => nl.addrAdd("eth0", "10.0.0.300/24"), { message: /^adding 10.0.0.300\/24 to eth0: expected/ });
  t.throws(() => nl.addrAdd("eth0", "10.0.0.3/33"), { message: /prefix length of 0-32/ });
  t.throws(() => nl.routeAdd({ dst: "default" }), { message: "adding route default: a route needs a gateway or a device" });
  t.throws(() => nl.routeAdd({ dst: "fd00::/64", gateway: "10.0.0.1" }), { message: /differ in family/ });
  t.same(sys.argsOf("send"), []);
});
