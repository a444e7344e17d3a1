// A DHCPv4 client for one link (RFC 2131): DISCOVER → OFFER → REQUEST → ACK,
// retransmission with doubling backoff, renewal at T1 (unicast), rebinding at
// T2 (broadcast), and a fresh start when the lease is lost. On ACK it adds the
// address and a default route itself; the caller gets the rest as a Lease.
//
// Transport: a udp4 socket on 0.0.0.0:68 with SO_BROADCAST. A link without an
// address has no route for 255.255.255.255, so while a broadcast exchange runs
// the client adds `255.255.255.255/32 dev <link>` and removes it afterwards.
// Replies come back as broadcasts (we set the BROADCAST flag; QEMU's slirp
// always broadcasts its replies, see libslirp bootp.c bootp_reply).
import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { setTimeout as sleep } from "node:timers/promises";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpMessage, type DhcpTypeName, decodeDhcp, encodeDhcp, macBytes, maskLength, Opt } from "./dhcp-packet.js";
import { existsOk, goneOk, type Rtnetlink } from "./rtnetlink.js";

const BROADCAST = "255.255.255.255";
/** Metric of the default route a lease adds: above static routes (0), as systemd-networkd does. */
export const DHCP_ROUTE_METRIC = 1024;
const PARAMETERS = [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.HOSTNAME, Opt.DOMAIN, Opt.LEASE_TIME, Opt.SERVER_ID, Opt.RENEWAL_TIME, Opt.REBINDING_TIME];

/** What a server granted, as applied to the link. */
export interface Lease {
  link: string;
  address: string;
  prefixLength: number;
  /** The default gateway (first router), "" when the server sent none. */
  router: string;
  nameservers: string[];
  hostname?: string;
  domain?: string;
  serverId: string;
  leaseSeconds: number;
  renewSeconds: number;
  rebindSeconds: number;
  acquiredAt: Date;
}

export type DhcpEvent =
  | { t: "acquired"; lease: Lease }
  | { t: "renewed"; lease: Lease }
  | { t: "failed"; message: string }
  | { t: "lost"; lease: Lease; message: string };

/** Datagrams in and out on port 68. */
export interface DhcpTransport {
  send(data: Buffer, to: string): Promise<void>;
  /** The next datagram, or undefined when `ms` pass first or the signal aborts. */
  receive(ms: number, signal: AbortSignal): Promise<Buffer | undefined>;
  close(): void;
}

export interface DhcpClientOptions {
  link: string;
  mac: string;
  nl: Pick<Rtnetlink, "addrAdd" | "addrDel" | "routeAdd" | "routeDel">;
  onEvent(e: DhcpEvent): void;
  /** Default: a udp4 socket on 0.0.0.0:68. */
  openTransport?: () => Promise<DhcpTransport>;
  /** One attempt to get a lease gives up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Pause after a failed attempt before the next. Default 10 s. */
  retryMs?: number;
  /** First retransmission delay; doubles up to 64 s (RFC 2131 4.1). Default 4 s. */
  retransmitMs?: number;
}

export interface DhcpClient {
  /** The first lease, or undefined if the client stopped before it got one. */
  readonly firstLease: Promise<Lease | undefined>;
  lease(): Lease | undefined;
  /** Stops the client and removes the address and route it added. */
  stop(): Promise<void>;
}

/** Starts a client on one link; it runs until stop(). */
export function startDhcpClient(o: DhcpClientOptions): DhcpClient {
  const abort = new AbortController();
  let current: Lease | undefined;
  let resolveFirst: (l: Lease | undefined) => void = () => {};
  const firstLease = new Promise<Lease | undefined>((r) => {
    resolveFirst = r;
  });
  const onLease = (l: Lease | undefined) => {
    current = l;
    if (l) resolveFirst(l);
  };
  const done = run(o, abort.signal, onLease).catch((err: unknown) => o.onEvent({ t: "failed", message: `dhcp on ${o.link} stopped: ${messageOf(err)}` }));
  return {
    firstLease,
    lease: () => current,
    stop: async () => {
      abort.abort();
      await done;
      resolveFirst(undefined);
      if (current) unconfigure(o, current);
      current = undefined;
    },
  };
}

/** The client's life: acquire, stay bound while renewals work, start over when the lease is lost. */
async function run(o: DhcpClientOptions, signal: AbortSignal, onLease: (l: Lease | undefined) => void): Promise<void> {
  let transport: DhcpTransport | undefined;
  try {
    while (!signal.aborted) {
      try {
        // Opened here so that a failure (port 68 taken) is retried like a lease that did not come.
        transport ??= await (o.openTransport ?? openUdpTransport)();
        const lease = await acquire(o, transport, signal);
        if (signal.aborted) return;
        if (lease) {
          configure(o, lease, undefined);
          onLease(lease);
          o.onEvent({ t: "acquired", lease });
          await stayBound(o, transport, lease, signal, onLease);
          continue;
        }
        o.onEvent({ t: "failed", message: `no DHCP lease on ${o.link} within ${(o.timeoutMs ?? 30_000) / 1000} s` });
      } catch (err) {
        o.onEvent({ t: "failed", message: `dhcp on ${o.link}: ${messageOf(err)}` });
      }
      await pause(o.retryMs ?? 10_000, signal);
    }
  } finally {
    transport?.close();
  }
}

/** Renews at T1 and rebinds at T2 until the lease is lost (then unconfigures it) or the client stops. */
async function stayBound(o: DhcpClientOptions, t: DhcpTransport, first: Lease, signal: AbortSignal, onLease: (l: Lease | undefined) => void) {
  let lease = first;
  for (;;) {
    // An infinite lease (RFC 2131: 0xffffffff) is never renewed: it holds until the client stops.
    if (lease.leaseSeconds === INFINITE_LEASE) return void (await pause(Number.POSITIVE_INFINITY, signal));
    const started = lease.acquiredAt.getTime();
    if (!(await pause(started + lease.renewSeconds * 1000 - Date.now(), signal))) return;
    const next =
      (await renew(o, t, lease, "renew", started + lease.rebindSeconds * 1000, signal)) ??
      (await renew(o, t, lease, "rebind", started + lease.leaseSeconds * 1000, signal));
    if (signal.aborted) return;
    if (!next) {
      unconfigure(o, lease);
      onLease(undefined);
      return o.onEvent({ t: "lost", lease, message: `the DHCP lease of ${lease.address} on ${o.link} ran out or was refused` });
    }
    configure(o, next, lease);
    lease = next;
    onLease(lease);
    o.onEvent({ t: "renewed", lease });
  }
}

/** DISCOVER → OFFER → REQUEST → ACK until the attempt's deadline; undefined on timeout. */
async function acquire(o: DhcpClientOptions, t: DhcpTransport, signal: AbortSignal): Promise<Lease | undefined> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  return withBroadcastRoute(o, async () => {
    while (Date.now() < deadline && !signal.aborted) {
      const xid = randomInt(2 ** 32 - 1);
      const start = Date.now();
      const offer = await exchange(o, t, () => request(o, "DISCOVER", xid, start, {}), BROADCAST, xid, ["OFFER"], deadline, signal);
      if (!offer) return undefined;
      const req = { requestedIp: offer.yiaddr, serverId: offer.options.serverId ?? offer.siaddr };
      const ack = await exchange(o, t, () => request(o, "REQUEST", xid, start, req), BROADCAST, xid, ["ACK", "NAK"], deadline, signal);
      if (ack?.type === "ACK") return leaseOf(o.link, ack);
    }
    return undefined;
  });
}

/** A renewal (unicast to the server) or a rebind (broadcast): the new lease, or undefined. */
async function renew(o: DhcpClientOptions, t: DhcpTransport, lease: Lease, how: "renew" | "rebind", deadline: number, signal: AbortSignal) {
  const xid = randomInt(2 ** 32 - 1);
  const start = Date.now();
  const send = () => ({ ...request(o, "REQUEST", xid, start, {}), ciaddr: lease.address, broadcast: false });
  const go = () => exchange(o, t, send, how === "renew" ? lease.serverId : BROADCAST, xid, ["ACK", "NAK"], deadline, signal);
  const reply = how === "renew" ? await go() : await withBroadcastRoute(o, go);
  return reply?.type === "ACK" ? leaseOf(o.link, reply) : undefined;
}

/** A client message of `type`, asking for the options kiln uses. */
function request(o: DhcpClientOptions, type: DhcpTypeName, xid: number, start: number, extra: { requestedIp?: string; serverId?: string }): DhcpMessage {
  return {
    op: "request",
    type,
    xid,
    secs: Math.min(0xffff, Math.floor((Date.now() - start) / 1000)),
    broadcast: true,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: o.mac,
    options: { ...extra, parameters: PARAMETERS, maxSize: 1500, clientId: Buffer.concat([Buffer.from([1]), macBytes(o.mac)]) },
  };
}

/**
 * Sends `build()` to `to` and waits for a reply with our xid and MAC whose
 * type is in `want`, retransmitting after 4, 8, 16… s, until the deadline.
 */
async function exchange(
  o: DhcpClientOptions,
  t: DhcpTransport,
  build: () => DhcpMessage,
  to: string,
  xid: number,
  want: DhcpTypeName[],
  deadline: number,
  signal: AbortSignal,
): Promise<DhcpMessage | undefined> {
  for (let wait = o.retransmitMs ?? 4000; Date.now() < deadline && !signal.aborted; wait = Math.min(wait * 2, 64_000)) {
    // A send that fails (no route yet, link down) is a lost datagram: wait and retransmit.
    await t.send(encodeDhcp(build()), to).catch(() => undefined);
    const until = Math.min(deadline, Date.now() + wait + randomInt(-500, 500));
    for (let left = until - Date.now(); left > 0; left = until - Date.now()) {
      const data = await t.receive(left, signal);
      if (!data) break;
      const m = decodeDhcp(data);
      if ("value" in m && m.value.op === "reply" && m.value.xid === xid && m.value.chaddr === o.mac && want.includes(m.value.type)) return m.value;
    }
  }
  return undefined;
}

/** The lease an ACK grants; T1 and T2 default to 1/2 and 7/8 of the lease (RFC 2131 4.4.5). */
function leaseOf(link: string, ack: DhcpMessage): Lease {
  const op = ack.options;
  const leaseSeconds = op.leaseSeconds ?? 3600;
  const lease: Lease = {
    link,
    address: ack.yiaddr,
    prefixLength: (op.subnetMask ? maskLength(op.subnetMask) : undefined) ?? 24,
    router: op.routers?.[0] ?? "",
    nameservers: op.nameservers ?? [],
    serverId: op.serverId ?? ack.siaddr,
    leaseSeconds,
    renewSeconds: op.renewalSeconds ?? Math.floor(leaseSeconds / 2),
    rebindSeconds: op.rebindingSeconds ?? Math.floor((leaseSeconds * 7) / 8),
    acquiredAt: new Date(),
  };
  if (op.hostname) lease.hostname = op.hostname;
  if (op.domain) lease.domain = op.domain;
  return lease;
}

/** Adds the lease's address and default route; a renewal with a new address replaces the old one. */
function configure(o: DhcpClientOptions, lease: Lease, prev: Lease | undefined): void {
  if (prev && (prev.address !== lease.address || prev.prefixLength !== lease.prefixLength || prev.router !== lease.router)) unconfigure(o, prev);
  existsOk(() => o.nl.addrAdd(o.link, `${lease.address}/${lease.prefixLength}`));
  if (lease.router) existsOk(() => o.nl.routeAdd({ dst: "default", gateway: lease.router, dev: o.link, metric: DHCP_ROUTE_METRIC }));
}

/** Removes the lease's route and address; ones already gone are fine. */
function unconfigure(o: DhcpClientOptions, lease: Lease): void {
  if (lease.router) goneOk(() => o.nl.routeDel({ dst: "default", gateway: lease.router, dev: o.link, metric: DHCP_ROUTE_METRIC }));
  goneOk(() => o.nl.addrDel(o.link, `${lease.address}/${lease.prefixLength}`));
}

// One 255.255.255.255/32 route exists at a time, so broadcast exchanges on
// different links take turns: the route is the machine's, not the client's.
let broadcastTurn: Promise<unknown> = Promise.resolve();

/** Runs `fn` with `255.255.255.255/32 dev <link>` in place, one link at a time. */
function withBroadcastRoute<T>(o: DhcpClientOptions, fn: () => Promise<T>): Promise<T> {
  const route = { dst: `${BROADCAST}/32`, dev: o.link };
  const turn = broadcastTurn.then(async () => {
    existsOk(() => o.nl.routeAdd(route));
    try {
      return await fn();
    } finally {
      goneOk(() => o.nl.routeDel(route));
    }
  });
  broadcastTurn = turn.catch(() => undefined);
  return turn;
}

/** Waits `ms` (at least 0); false when the signal aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  // Node's timers take at most 2^31-1 ms (about 24.8 days) and fire at once
  // for more, so a long wait is several.
  const until = Date.now() + Math.max(0, ms);
  try {
    do await sleep(Math.min(Math.max(0, until - Date.now()), MAX_TIMER_MS), undefined, { signal });
    while (Date.now() < until);
    return true;
  } catch {
    return false;
  }
}

/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The lease time that means "infinite" (RFC 2131, 3.3). */
export const INFINITE_LEASE = 0xffffffff;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A udp4 socket on 0.0.0.0:68 (SO_REUSEADDR, so each link's client may have one) with SO_BROADCAST. */
export async function openUdpTransport(): Promise<DhcpTransport> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  const queue: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on("message", (msg) => {
    queue.push(msg);
    wake?.();
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port: DHCP_CLIENT_PORT, address: "0.0.0.0" }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.setBroadcast(true);
  return {
    send: (data, to) => new Promise((resolve, reject) => socket.send(data, DHCP_SERVER_PORT, to, (err) => (err ? reject(err) : resolve()))),
    receive: async (ms, signal) => {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, ms);
          signal.addEventListener("abort", done);
          wake = done;
        });
      }
      return queue.shift();
    },
    close: () => socket.close(),
  };
}
