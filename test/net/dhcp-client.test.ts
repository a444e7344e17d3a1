// The DHCP client's exchanges against a scripted server behind a fake
// transport, and the netlink calls it makes on the way.
import t from "tap";
import { type DhcpEvent, type DhcpTransport, startDhcpClient } from "../../src/net/dhcp-client.js";
import { type DhcpMessage, decodeDhcp, encodeDhcp } from "../../src/net/dhcp-packet.js";
import type { RouteSpec } from "../../src/net/rtnetlink.js";

const MAC = "52:54:00:12:34:56";

/** A transport whose server answers each client message with what `reply` returns (or nothing). */
function scripted(reply: (m: DhcpMessage, n: number) => Partial<DhcpMessage> | undefined) {
  const sent: { type: string; to: string; m: DhcpMessage }[] = [];
  const inbox: Buffer[] = [];
  let wake: (() => void) | undefined;
  const transport: DhcpTransport = {
    send: async (data, to) => {
      const m = decodeDhcp(data);
      if (!("value" in m)) throw new Error(m.error);
      sent.push({ type: m.value.type, to, m: m.value });
      const r = reply(m.value, sent.length);
      if (r) {
        const base: DhcpMessage = { ...m.value, op: "reply", yiaddr: "10.0.2.15", siaddr: "10.0.2.2", options: {} };
        inbox.push(encodeDhcp({ ...base, ...r, options: { serverId: "10.0.2.2", ...r.options } }));
        wake?.();
      }
    },
    receive: async (ms, signal) => {
      if (!inbox.length) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          signal.addEventListener("abort", () => wake?.());
        });
      }
      return inbox.shift();
    },
    close: () => {},
  };
  return { transport, sent };
}

/** A recording netlink. */
function recordingNl() {
  const calls: string[] = [];
  const route = (verb: string) => (r: RouteSpec) => void calls.push(`${verb} ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev}`);
  return {
    calls,
    nl: {
      addrAdd: (n: string, c: string) => void calls.push(`addr add ${c} dev ${n}`),
      addrDel: (n: string, c: string) => void calls.push(`addr del ${c} dev ${n}`),
      routeAdd: route("route add"),
      routeDel: route("route del"),
    },
  };
}

const ackOptions = { subnetMask: "255.255.255.0", routers: ["10.0.2.2"], nameservers: ["10.0.2.3"], leaseSeconds: 86400 };

t.test("retransmits an unanswered DISCOVER, then requests the offer and configures the ACK", async (t) => {
  const { transport, sent } = scripted((m, n) => {
    if (m.type === "DISCOVER") return n === 1 ? undefined : { type: "OFFER", options: ackOptions };
    return { type: "ACK", options: ackOptions };
  });
  const { nl, calls } = recordingNl();
  const events: DhcpEvent[] = [];
  const client = startDhcpClient({ link: "eth0", mac: MAC, nl, onEvent: (e) => events.push(e), openTransport: async () => transport, retransmitMs: 600 });
  const lease = await client.firstLease;
  t.match(lease, { link: "eth0", address: "10.0.2.15", prefixLength: 24, router: "10.0.2.2", nameservers: ["10.0.2.3"], leaseSeconds: 86400, renewSeconds: 43200, rebindSeconds: 75600 });
  t.same(sent.map((s) => `${s.type} ${s.to}`), ["DISCOVER 255.255.255.255", "DISCOVER 255.255.255.255", "REQUEST 255.255.255.255"]);
  t.equal(sent[0]?.m.broadcast, true, "the BROADCAST flag is set");
  t.same(sent[2]?.m.options.requestedIp, "10.0.2.15");
  t.same(sent[2]?.m.options.serverId, "10.0.2.2");
  t.equal(sent[0]?.m.xid, sent[2]?.m.xid, "one transaction");
  t.same(calls, [
    "route add 255.255.255.255/32 dev eth0",
    "route del 255.255.255.255/32 dev eth0",
    "addr add 10.0.2.15/24 dev eth0",
    "route add default via 10.0.2.2 dev eth0",
  ]);
  await client.stop();
  t.same(calls.slice(4), ["route del default via 10.0.2.2 dev eth0", "addr del 10.0.2.15/24 dev eth0"], "stop removes what the lease added");
  t.same(events.map((e) => e.t), ["acquired"]);
});

t.test("a NAK starts over with a new DISCOVER; no answer at all is a failed event, retried", async (t) => {
  let naks = 0;
  const { transport, sent } = scripted((m) => {
    if (m.type === "DISCOVER") return { type: "OFFER", options: ackOptions };
    return naks++ === 0 ? { type: "NAK" } : { type: "ACK", options: ackOptions };
  });
  const { nl } = recordingNl();
  const client = startDhcpClient({ link: "eth0", mac: MAC, nl, onEvent: () => {}, openTransport: async () => transport, retransmitMs: 600 });
  await client.firstLease;
  t.same(sent.map((s) => s.type), ["DISCOVER", "REQUEST", "DISCOVER", "REQUEST"]);
  await client.stop();

  const silent = scripted(() => undefined);
  const events: DhcpEvent[] = [];
  const quiet = startDhcpClient({ link: "eth1", mac: MAC, nl, onEvent: (e) => events.push(e), openTransport: async () => silent.transport, timeoutMs: 300, retryMs: 50, retransmitMs: 600 });
  await new Promise((r) => setTimeout(r, 900));
  await quiet.stop();
  t.ok(events.length >= 2 && events.every((e) => e.t === "failed"), `failed, then tried again: ${events.map((e) => e.t)}`);
  t.match(events[0], { t: "failed", message: "no DHCP lease on eth1 within 0.3 s" });
  t.equal(await quiet.firstLease, undefined, "a client stopped before any lease resolves firstLease with undefined");
});

t.test("an infinite lease (0xffffffff) is never renewed: no request storm", async (t) => {
  // dnsmasq's fixed leases are infinite; T1 of half of 2^32 s once overflowed Node's timer and fired at once, in a loop.
  const opts = { ...ackOptions, leaseSeconds: 0xffffffff, renewalSeconds: 0x7fffffff };
  const { transport, sent } = scripted((m) => ({ type: m.type === "DISCOVER" ? "OFFER" : "ACK", options: opts }));
  const { nl } = recordingNl();
  const events: DhcpEvent[] = [];
  const client = startDhcpClient({ link: "eth0", mac: MAC, nl, onEvent: (e) => events.push(e), openTransport: async () => transport });
  await client.firstLease;
  await new Promise((r) => setTimeout(r, 500));
  await client.stop();
  t.same(sent.map((s) => s.type), ["DISCOVER", "REQUEST"], "no renewal");
  t.same(events.map((e) => e.t), ["acquired"]);
});

t.test("renews by unicast to the server at T1", async (t) => {
  const opts = { ...ackOptions, renewalSeconds: 1 };
  const { transport, sent } = scripted((m) => ({ type: m.type === "DISCOVER" ? "OFFER" : "ACK", options: opts }));
  const { nl } = recordingNl();
  const events: DhcpEvent[] = [];
  const client = startDhcpClient({ link: "eth0", mac: MAC, nl, onEvent: (e) => events.push(e), openTransport: async () => transport });
  await client.firstLease;
  await new Promise((r) => setTimeout(r, 1300));
  await client.stop();
  t.match(sent[2], { type: "REQUEST", to: "10.0.2.2", m: { ciaddr: "10.0.2.15", broadcast: false } });
  t.same(sent[2]?.m.options.requestedIp, undefined, "RENEWING leaves requested-IP out (RFC 2131 4.3.2)");
  t.same(events.map((e) => e.t), ["acquired", "renewed"]);
});
